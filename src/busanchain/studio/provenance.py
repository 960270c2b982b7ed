"""C2PA content credentials: the studio signs each stored photo after it was cleaned.

The manifest says only what the platform knows and may publish: the studio's certificate
(an organisation, never a person), the claim generator, and that the image is a digital
capture re-encoded by the studio pipeline. No names, places or dates of people go in; the
capture date stays in the database. Signing happens after stripping, so the sha256 and CID
minted are those of the signed file.

`issue_studio_credentials` makes a development certificate: a self-signed test CA and an
ES256 (P-256) signing certificate with the key usage and extended key usage that C2PA's
certificate profile requires. Production studios use a certificate from a real CA instead;
readers will report the test CA as untrusted, which is correct.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from busanchain.domain.errors import ConfigurationError

CLAIM_GENERATOR = "busanchain-studio"
DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
SIGNABLE_TYPES = frozenset({"image/jpeg", "image/png"})


@dataclass(frozen=True)
class StudioCredentials:
    """A studio's signing certificate chain (leaf first, PEM) and its P-256 key (PEM).

    `trust_anchor_pem` is the issuing CA, for verifiers that should trust it (a development
    CA is trusted by nobody else).
    """

    certificate_chain_pem: bytes
    private_key_pem: bytes
    trust_anchor_pem: bytes = b""


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _test_ca(
    organisation: str, now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{organisation} test CA", organisation)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_studio_credentials(studio_name: str, valid_days: int = 365) -> StudioCredentials:
    """A development CA and an ES256 C2PA signing certificate for `studio_name`."""
    now = datetime.now(UTC)
    ca_cert, ca_key = _test_ca(studio_name, now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{studio_name} content credentials", studio_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_pem
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return StudioCredentials(chain, pem_key, ca_pem)


def _manifest(media_type: str) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": "1"}],
        "format": media_type,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.created", "digitalSourceType": DIGITAL_CAPTURE},
                        {"action": "c2pa.transcoded"},
                    ]
                },
            }
        ],
    }


def sign_photo(data: bytes, media_type: str, credentials: StudioCredentials) -> bytes:
    """The photo with an embedded, signed C2PA manifest (ES256, no timestamp authority)."""
    if media_type not in SIGNABLE_TYPES:
        raise ValueError(f"cannot sign {media_type}")
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256,
        credentials.certificate_chain_pem,
        credentials.private_key_pem,
        None,
    )
    out = io.BytesIO()
    try:
        signer = c2pa.Signer.from_info(info)
        with c2pa.Builder(json.dumps(_manifest(media_type))) as builder:
            builder.sign(signer, media_type, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise ConfigurationError(
            f"The studio's C2PA certificate could not sign: {exc}",
            "스튜디오 C2PA 인증서로 서명할 수 없습니다.",
        ) from exc
    return out.getvalue()


def _reader_context(trust_anchors_pem: bytes | None) -> c2pa.Context:
    if not trust_anchors_pem:
        return c2pa.Context()
    settings = c2pa.Settings.from_dict(
        {
            "trust": {"trust_anchors": trust_anchors_pem.decode("ascii")},
            "verify": {"verify_trust": True},
        }
    )
    return c2pa.Context(settings=settings)


def read_manifest(
    data: bytes, media_type: str, trust_anchors_pem: bytes | None = None
) -> dict[str, Any] | None:
    """The manifest store as JSON (with its validation results), or None if there is none.

    With `trust_anchors_pem`, certificates issued by those CAs validate as trusted.
    """
    try:
        with (
            _reader_context(trust_anchors_pem) as context,
            c2pa.Reader(media_type, io.BytesIO(data), None, context) as reader,
        ):
            return dict(json.loads(reader.json()))
    except c2pa.C2paError:
        return None
