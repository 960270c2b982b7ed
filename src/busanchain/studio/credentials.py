"""Studio content credentials: the C2PA signing certificate and key each studio signs with.

When a platform admin approves a studio, it gets DEVELOPMENT credentials from
`provenance.issue_studio_credentials`: a leaf certificate that chains to a test CA made for
that studio alone, which no C2PA reader trusts (readers report "signingCredential.untrusted",
which is correct). A studio in production uploads a certificate chain from a real CA (one
on the C2PA trust list) with its P-256 key; `PUT /api/studio/me/credentials` replaces the
development ones.

An uploaded chain is checked before it is kept: PEM certificates, leaf first, each issued by
the next; an unencrypted P-256 (ES256) private key matching the leaf's public key; a leaf
that is valid now, with the digitalSignature key usage and the C2PA document-signing or
emailProtection extended key usage; and a trial signature with the c2pa library. Anything
wrong is an `InvalidCredentials` (422, Korean and English), never a 500.

The private key is sealed with the platform's envelope encryption (as custodial keys are),
bound to the studio and the leaf certificate, and is never part of any answer.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from sqlalchemy.orm import Session

from busanchain.db.base import utcnow
from busanchain.domain.errors import ConfigurationError, Conflict, NotFound, ValidationFailed
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.studio import repository as repo
from busanchain.studio.provenance import (
    DOCUMENT_SIGNING,
    StudioCredentials,
    issue_studio_credentials,
    sign_photo,
)
from busanchain.studio.tables import CredentialSource, StudioCredentialRecord, StudioRecord

MAX_CHAIN_CERTIFICATES = 10
SIGNING_EKUS = frozenset({DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION})
PEM = serialization.Encoding.PEM


class InvalidCredentials(ValidationFailed):
    """An uploaded certificate chain or key cannot be used to sign content credentials."""

    code = "studio_credentials_invalid"
    default_ko = "콘텐츠 자격 증명(인증서와 키)을 사용할 수 없습니다."
    default_en = "The content credentials (certificate and key) cannot be used."


class CredentialsExpired(Conflict):
    """The studio's uploaded signing certificate has expired: nothing can be signed."""

    code = "studio_credentials_expired"
    default_ko = "사진관 서명 인증서가 만료되었습니다. 새 인증서를 올려 주세요."
    default_en = "The studio's signing certificate has expired. Please upload a new one."


def _invalid(en: str, ko: str) -> InvalidCredentials:
    return InvalidCredentials(en, ko)


# -- checking an uploaded chain and key ----------------------------------------------------------


def _load_chain(chain_pem: bytes) -> list[x509.Certificate]:
    """The PEM certificates, leaf first (at most MAX_CHAIN_CERTIFICATES)."""
    try:
        certificates = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise _invalid(
            "The certificate chain is not valid PEM (-----BEGIN CERTIFICATE-----).",
            "인증서 체인이 올바른 PEM 형식(-----BEGIN CERTIFICATE-----)이 아닙니다.",
        ) from None
    if len(certificates) > MAX_CHAIN_CERTIFICATES:
        raise _invalid(
            f"The chain has more than {MAX_CHAIN_CERTIFICATES} certificates.",
            f"인증서 체인에 인증서가 {MAX_CHAIN_CERTIFICATES}개를 넘습니다.",
        )
    return certificates


def _load_key(key_pem: bytes) -> ec.EllipticCurvePrivateKey:
    """An unencrypted P-256 private key, or InvalidCredentials."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise _invalid(
            "The private key is password-protected; upload it unencrypted.",
            "개인 키가 암호로 보호되어 있습니다. 암호 없이 올려 주세요.",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise _invalid(
            "The private key is not valid PEM (-----BEGIN PRIVATE KEY-----).",
            "개인 키가 올바른 PEM 형식(-----BEGIN PRIVATE KEY-----)이 아닙니다.",
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise _invalid(
            "The private key must be an EC P-256 key (ES256).",
            "개인 키는 EC P-256(ES256) 키여야 합니다.",
        )
    return key


def _check_key_matches(leaf: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    try:
        public = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm):
        public = None
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
        public.curve, ec.SECP256R1
    ):
        raise _invalid(
            "The signing certificate must hold an EC P-256 (ES256) public key.",
            "서명 인증서의 공개 키는 EC P-256(ES256)이어야 합니다.",
        )
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if public.public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise _invalid(
            "The private key does not belong to the first (signing) certificate.",
            "개인 키가 첫 번째(서명) 인증서의 키가 아닙니다.",
        )


def _check_validity(leaf: x509.Certificate, now: datetime) -> None:
    if leaf.not_valid_after_utc <= now:
        raise _invalid(
            f"The signing certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}.",
            f"서명 인증서가 {leaf.not_valid_after_utc:%Y-%m-%d}에 만료되었습니다.",
        )
    if leaf.not_valid_before_utc > now:
        raise _invalid(
            f"The signing certificate is valid only from {leaf.not_valid_before_utc:%Y-%m-%d}.",
            f"서명 인증서는 {leaf.not_valid_before_utc:%Y-%m-%d}부터 유효합니다.",
        )


def _check_usage(leaf: x509.Certificate) -> None:
    """digitalSignature key usage and a C2PA signing extended key usage."""
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        usage, extended = None, None
    if usage is None or not usage.digital_signature:
        raise _invalid(
            "The signing certificate needs the digitalSignature key usage.",
            "서명 인증서에 digitalSignature 키 용도가 있어야 합니다.",
        )
    if extended is None or not SIGNING_EKUS & set(extended):
        raise _invalid(
            "The signing certificate needs the C2PA document-signing "
            "(1.3.6.1.5.5.7.3.36) or emailProtection extended key usage.",
            "서명 인증서에 C2PA 문서 서명(1.3.6.1.5.5.7.3.36) 또는 emailProtection "
            "확장 키 용도가 있어야 합니다.",
        )


def _check_chain(certificates: list[x509.Certificate]) -> None:
    """Each certificate is issued (and signed) by the next one."""
    for child, issuer in pairwise(certificates):
        try:
            child.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise _invalid(
                "The chain must start with the signing certificate, each followed by its issuer.",
                "인증서 체인은 서명 인증서로 시작하고, 각 인증서 다음에 그 발급자가 와야 합니다.",
            ) from None


@cache
def _probe_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (128, 128, 128)).save(out, "JPEG")
    return out.getvalue()


def _trial_sign(credentials: StudioCredentials) -> None:
    """Sign a tiny image once, so the c2pa library accepts this chain before it is kept."""
    try:
        sign_photo(_probe_jpeg(), "image/jpeg", credentials)
    except ConfigurationError as exc:
        reason = " ".join(exc.message_en.split(":", 1)[-1].split())[:300]
        raise _invalid(
            f"The C2PA library refused to sign with this certificate and key: {reason}",
            f"C2PA 라이브러리가 이 인증서와 키로 서명하지 못했습니다: {reason}",
        ) from None


def parse_credentials(
    chain_pem: str, key_pem: str, now: datetime | None = None
) -> StudioCredentials:
    """Check an uploaded chain (leaf first) and P-256 key; see the module docstring.

    Raises:
        InvalidCredentials: anything that would not sign valid content credentials.
    """
    try:
        chain_bytes, key_bytes = chain_pem.encode("ascii"), key_pem.encode("ascii")
    except UnicodeEncodeError:
        raise _invalid("PEM text is plain ASCII.", "PEM 텍스트는 ASCII 문자만 씁니다.") from None
    certificates = _load_chain(chain_bytes)
    key = _load_key(key_bytes)
    leaf = certificates[0]
    _check_key_matches(leaf, key)
    _check_validity(leaf, now or datetime.now(UTC))
    _check_usage(leaf)
    _check_chain(certificates)
    credentials = StudioCredentials(
        b"".join(c.public_bytes(PEM) for c in certificates),
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        certificates[-1].public_bytes(PEM),
    )
    _trial_sign(credentials)
    return credentials


# -- facts ---------------------------------------------------------------------------------------


def _leaf(chain_pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificates(chain_pem.encode("ascii"))[0]


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _aware(moment: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite gives them back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return _aware(moment).isoformat()


def credential_facts(record: StudioCredentialRecord) -> dict[str, Any]:
    """What the studio may see of its credentials (JSON-ready): never the key."""
    leaf = _leaf(record.certificate_chain_pem)
    issuer = _attribute(leaf.issuer, NameOID.ORGANIZATION_NAME) or _attribute(
        leaf.issuer, NameOID.COMMON_NAME
    )
    return {
        "subject_organisation": _attribute(leaf.subject, NameOID.ORGANIZATION_NAME),
        "subject_common_name": _attribute(leaf.subject, NameOID.COMMON_NAME),
        "issuer": issuer,
        "issuer_common_name": _attribute(leaf.issuer, NameOID.COMMON_NAME),
        "not_after": _iso(record.not_after),
        "source": record.source,
        "created_at": _iso(record.created_at),
    }


def _fingerprint(chain_pem: bytes) -> tuple[str, datetime]:
    """The leaf's sha256 fingerprint (hex) and its not-after moment."""
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    digest = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    return digest, leaf.not_valid_after_utc


# -- the service ---------------------------------------------------------------------------------


class StudioCredentialService:
    """Keeps each studio's C2PA credentials: development ones on approval, or uploaded."""

    def __init__(self, context: PlatformContext) -> None:
        self.context = context

    def ensure_development(self, studio_id: int) -> None:
        """Give a studio development credentials unless it has (unexpired) ones already.

        These chain to a test CA made for this studio; a production studio uploads a
        certificate from a real CA instead (`replace`). Idempotent.
        """
        with self.context.unit_of_work() as session:
            if _keeps(repo.credentials_of_studio(session, studio_id)):
                return  # the common case, without a lock
        with self.context.unit_of_work() as session:
            studio = repo.studio(session, studio_id, lock=True)
            if studio is None:
                raise NotFound("No such studio.", "해당 사진관이 없습니다.")
            if not _keeps(repo.credentials_of_studio(session, studio_id)):
                self._keep(session, studio_id, _development(studio), CredentialSource.DEV)

    def replace(self, user_id: int, chain_pem: str, key_pem: str) -> dict[str, Any]:
        """Replace the user's studio's credentials with an uploaded chain and key.

        Raises:
            NotFound: the user has no studio.
            InvalidCredentials: the chain or key cannot be used (422, ko and en).
        """
        with self.context.unit_of_work() as session:
            self._own_studio(session, user_id)  # 404 before any parsing
        credentials = parse_credentials(chain_pem, key_pem)
        with self.context.unit_of_work() as session:
            studio = self._own_studio(session, user_id)
            record = self._keep(session, studio.id, credentials, CredentialSource.UPLOADED)
            return credential_facts(record)

    def facts(self, user_id: int) -> dict[str, Any]:
        """The facts of the user's studio's credentials; NotFound if it has none yet."""
        facts = self.facts_of_owner(user_id)
        if facts is None:
            raise NotFound(
                "Your studio has no content credentials yet (they come with the approval).",
                "사진관에 아직 콘텐츠 자격 증명이 없습니다(승인되면 발급됩니다).",
            )
        return facts

    def facts_of_owner(self, user_id: int) -> dict[str, Any] | None:
        """The facts of the user's studio's credentials, or None if it has none yet."""
        with self.context.unit_of_work() as session:
            studio = self._own_studio(session, user_id)
            record = repo.credentials_of_studio(session, studio.id)
            return credential_facts(record) if record is not None else None

    def for_signing(self, studio_id: int) -> StudioCredentials:
        """The studio's credentials with the opened key, for signing one upload batch.

        A studio approved before credentials existed (or whose development certificate
        expired) gets development credentials first.
        """
        self.ensure_development(studio_id)
        with self.context.unit_of_work() as session:
            record = repo.credentials_of_studio(session, studio_id)
            assert record is not None
            if _aware(record.not_after) <= utcnow():
                raise CredentialsExpired(
                    f"The studio's signing certificate expired on {record.not_after:%Y-%m-%d}:"
                    " upload a new one (PUT /api/studio/me/credentials).",
                    f"사진관 서명 인증서가 {record.not_after:%Y-%m-%d}에 만료되었습니다."
                    " 새 인증서를 올려 주세요(PUT /api/studio/me/credentials).",
                )
            key_pem = key_service_for(self.context).open_row(record)
            chain = record.certificate_chain_pem.encode("ascii")
        return StudioCredentials(chain, key_pem)

    def _keep(
        self, session: Session, studio_id: int, credentials: StudioCredentials, source: str
    ) -> StudioCredentialRecord:
        """Insert or overwrite the studio's row; the key is sealed, bound to the new leaf."""
        leaf_sha256, not_after = _fingerprint(credentials.certificate_chain_pem)
        record = repo.credentials_of_studio(session, studio_id, lock=True)
        if record is None:
            record = StudioCredentialRecord(studio_id=studio_id, version=1)
            session.add(record)
        record.certificate_chain_pem = credentials.certificate_chain_pem.decode("ascii")
        record.leaf_sha256, record.not_after, record.source = leaf_sha256, not_after, source
        record.created_at = utcnow()
        record.version = 1
        key_service_for(self.context).seal_row(record, credentials.private_key_pem)
        session.flush()
        return record

    @staticmethod
    def _own_studio(session: Session, user_id: int) -> StudioRecord:
        studio = repo.studio_of_owner(session, user_id)
        if studio is None:
            raise NotFound("You have not registered a studio.", "등록한 사진관이 없습니다.")
        return studio


def _keeps(current: StudioCredentialRecord | None) -> bool:
    """Whether a studio's current credentials stay: unexpired, or uploaded by the studio
    (an expired uploaded certificate is the studio's to replace, not the platform's)."""
    if current is None:
        return False
    return current.source == CredentialSource.UPLOADED or _aware(current.not_after) > utcnow()


def _development(studio: StudioRecord) -> StudioCredentials:
    """Development credentials naming the studio (its Korean name) as the organisation."""
    return issue_studio_credentials(studio.name_ko)
