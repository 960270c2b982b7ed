"""Studio content credentials: issued on approval, uploaded by the studio, used on every upload.

Real anvil, real database, real c2pa signing and reading; the uploaded chains are real X.509
chains built here (a root CA, an intermediate and a P-256 signing certificate).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from sqlalchemy import select, text

from busanchain.domain.roles import Role
from busanchain.keys.kek import KeyUnavailable, kek_from_hex
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.studio.cid import cid_of_bytes
from busanchain.studio.credentials import (
    CredentialsExpired,
    InvalidCredentials,
    StudioCredentialService,
)
from busanchain.studio.formats import PhotoFormat
from busanchain.studio.images import ProcessedPhoto, Rendition, process_upload
from busanchain.studio.provenance import DOCUMENT_SIGNING, read_manifest
from busanchain.studio.service import DuplicatePhoto, StudioService, Upload
from busanchain.studio.tables import StudioCredentialRecord
from tests.merchants.conftest import bizno
from tests.studio import corpus
from tests.studio.studio_support import StudioWorld, approved_studio, camera_photo, user
from tests.studio.test_images import assert_no_metadata
from tests.studio.test_provenance import APP11_JUMBF, active, failures
from tests.token.conftest import Actor, actor, platform  # noqa: F401 (fixture)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
UPLOADED_ORG = "Haeundae Photo Co."
PEM = serialization.Encoding.PEM


# -- real X.509 chains ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """An uploaded chain (leaf first), its signing key and the root CA."""

    chain_pem: str
    key_pem: str
    root_pem: bytes


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(signer, hashes.SHA256())
    )


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_chain(
    organisation: str = UPLOADED_ORG,
    leaf_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
    valid: tuple[timedelta, timedelta] = (timedelta(days=-1), timedelta(days=365)),
    digital_signature: bool = True,
    eku: tuple[x509.ObjectIdentifier, ...] = (
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        DOCUMENT_SIGNING,
    ),
) -> Chain:
    """A root CA -> intermediate CA -> signing certificate chain, like a real CA issues."""
    now = datetime.now(UTC)
    root_key, inter_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root_name = _name("Busan Test Root CA", "Busan Trust Services")
    inter_name = _name("Busan Test Issuing CA", "Busan Trust Services")
    root = _ca(root_name, root_key, root_name, root_key)
    inter = _ca(inter_name, inter_key, root_name, root_key)
    key = leaf_key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{organisation} C2PA signer", organisation))
        .issuer_name(inter_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + valid[0])
        .not_valid_after(now + valid[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature,
                not digital_signature,
                False,
                False,
                False,
                False,
                False,
                False,
                False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()), False
        )
    )
    leaf = builder.sign(inter_key, hashes.SHA256())
    chain = b"".join(c.public_bytes(PEM) for c in (leaf, inter, root))
    return Chain(chain.decode(), _pem_key(key), root.public_bytes(PEM))


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def world(service: StudioService) -> StudioWorld:
    admin = user(service.context, "credentials-admin", Role.ADMIN)
    return approved_studio(service, "gamma", "234567891", admin)


@pytest.fixture
def people(platform: PlatformContext) -> Iterator[dict[str, Actor]]:  # noqa: F811 (fixture)
    cast = {
        "studio": actor(platform, "studio-c2pa", Role.STUDIO),
        "admin": actor(platform, "admin-c2pa", Role.ADMIN),
    }
    yield cast
    for a in cast.values():
        a.client.close()


def _open_studio(people: dict[str, Actor]) -> int:
    """Register and approve the HTTP studio; returns a new session's id."""
    studio, admin = people["studio"], people["admin"]
    body = {
        "name_ko": "광안리 사진관",
        "name_en": "Gwangalli Photo",
        "business_number": bizno("345678912"),
    }
    created = studio.client.post("/api/studio/studios", json=body, headers=studio.headers)
    assert created.status_code == 201, created.text
    studio_id = created.json()["id"]
    approved = admin.client.post(f"/api/studio/studios/{studio_id}/approve", headers=admin.headers)
    assert approved.status_code == 200 and approved.json()["status"] == "active", approved.text
    session = studio.client.post(
        "/api/studio/sessions", json={"code": "C2PA-1"}, headers=studio.headers
    )
    assert session.status_code == 201, session.text
    return int(session.json()["id"])


def _put(a: Actor, chain: str, key: str, lang: str = "en") -> httpx.Response:
    return a.client.put(
        f"/api/studio/me/credentials?lang={lang}",
        json={"certificate_chain_pem": chain, "private_key_pem": key},
        headers=a.headers,
    )


def _stored(service: StudioService, photo: dict[str, object]) -> ProcessedPhoto:
    """The stored renditions of an uploaded photo, as the pipeline's result type."""
    original = service.store.get(str(photo["cid"]))
    assert original is not None
    thumbs = {}
    for side in (320, 1280):
        data = service.store.get(str(photo[f"thumb_{side}_cid"]))
        assert data is not None
        with Image.open(io.BytesIO(data)) as image:
            thumbs[side] = Rendition(data, "image/webp", *image.size)
    with Image.open(io.BytesIO(original)) as image:
        rendition = Rendition(original, str(photo["media_type"]), *image.size)
    sha256, cid = str(photo["sha256"]), str(photo["cid"])
    return ProcessedPhoto(rendition, thumbs, PhotoFormat.JPEG, sha256, cid, 0, None)


def _record(service: StudioService, studio_id: int) -> StudioCredentialRecord:
    with service.context.unit_of_work() as session:
        record = session.scalars(
            select(StudioCredentialRecord).where(StudioCredentialRecord.studio_id == studio_id)
        ).one()
        session.expunge(record)
        return record


def _root_of(record: StudioCredentialRecord) -> bytes:
    return x509.load_pem_x509_certificates(record.certificate_chain_pem.encode())[-1].public_bytes(
        PEM
    )


# -- approval and uploads ------------------------------------------------------------------------


def test_approval_gives_development_credentials(service: StudioService) -> None:
    admin = user(service.context, "credentials-admin", Role.ADMIN)
    owner = user(service.context, "delta-owner", Role.STUDIO)
    studio = service.register(owner, "delta 사진관", "Delta Studio", bizno("456789123"), 500)
    credentials = StudioCredentialService(service.context)
    assert credentials.facts_of_owner(owner) is None  # pending: nothing yet
    service.approve(studio["id"], admin)
    facts = credentials.facts_of_owner(owner)
    assert facts is not None
    assert facts["source"] == "dev"
    assert facts["subject_organisation"] == "delta 사진관"
    assert datetime.fromisoformat(facts["not_after"]) > datetime.now(UTC) + timedelta(days=300)
    first = _record(service, studio["id"]).leaf_sha256
    service.approve(studio["id"], admin)  # idempotent: the same certificate stays
    assert _record(service, studio["id"]).leaf_sha256 == first


def test_an_upload_stores_a_signed_clean_original(
    service: StudioService, world: StudioWorld
) -> None:
    upload = camera_photo(71)
    with Image.open(io.BytesIO(upload)) as image:
        assert image.getexif().get_ifd(corpus.GPS_IFD)  # the input really has a position
    photo = service.upload(world.owner_id, world.session_id, [Upload("a.jpg", upload)])[0]
    stored = _stored(service, photo)
    data = stored.original.data
    assert photo["sha256"] == hashlib.sha256(data).hexdigest()
    assert photo["cid"] == cid_of_bytes(data)
    unsigned = process_upload(upload, "a.jpg")
    assert unsigned.cid != photo["cid"]  # the CID is that of the signed file
    record = _record(service, world.studio_id)
    manifest = read_manifest(data, "image/jpeg", _root_of(record))
    assert manifest is not None
    assert failures(manifest) == []
    assert active(manifest)["signature_info"]["issuer"] == "gamma 사진관"
    assert read_manifest(data, "image/jpeg") is not None
    with Image.open(io.BytesIO(data)) as image:
        assert len(image.getexif()) == 0
        assert not image.getexif().get_ifd(corpus.GPS_IFD)
    assert_no_metadata(stored, extra_markers=APP11_JUMBF)


def test_a_transparent_png_is_signed_and_webp_becomes_a_signed_jpeg(
    service: StudioService, world: StudioWorld
) -> None:
    image = corpus.scene(200, 150).convert("RGBA")
    image.putalpha(100)
    webp = corpus.webp(corpus.scene(240, 180, 5), exif=corpus.exif_block().tobytes())
    png, jpeg = service.upload(
        world.owner_id,
        world.session_id,
        [Upload("a.png", corpus.png(image)), Upload("b.webp", webp)],
    )
    for photo, media_type in ((png, "image/png"), (jpeg, "image/jpeg")):
        assert photo["media_type"] == media_type
        data = service.store.get(str(photo["cid"]))
        assert data is not None
        manifest = read_manifest(data, media_type)
        assert manifest is not None, media_type
        assert failures(manifest) == ["signingCredential.untrusted"]  # a development CA


def test_the_same_photo_twice_is_still_a_duplicate(
    service: StudioService, world: StudioWorld
) -> None:
    data = camera_photo(72)
    service.upload(world.owner_id, world.session_id, [Upload("a.jpg", data)])
    with pytest.raises(DuplicatePhoto):  # signing differs each time; the clean pixels do not
        service.upload(world.owner_id, world.session_id, [Upload("a.jpg", data)])
    with pytest.raises(DuplicatePhoto):
        service.upload(world.owner_id, world.session_id, [Upload("b.jpg", camera_photo(73))] * 2)


def _age_certificate(service: StudioService, studio_id: int) -> None:
    """Time passes: the stored certificate is past its not-after date."""
    with service.context.unit_of_work() as session:
        record = session.scalars(
            select(StudioCredentialRecord).where(StudioCredentialRecord.studio_id == studio_id)
        ).one()
        record.not_after = datetime.now(UTC) - timedelta(days=1)


def test_an_expired_certificate(service: StudioService, world: StudioWorld) -> None:
    credentials = StudioCredentialService(service.context)
    old = _record(service, world.studio_id).leaf_sha256
    _age_certificate(service, world.studio_id)
    photo = service.upload(world.owner_id, world.session_id, [Upload("a.jpg", camera_photo(76))])
    assert _record(service, world.studio_id).leaf_sha256 != old  # development: issued again
    assert service.store.get(str(photo[0]["cid"])) is not None
    chain = make_chain()
    credentials.replace(world.owner_id, chain.chain_pem, chain.key_pem)
    _age_certificate(service, world.studio_id)
    with pytest.raises(CredentialsExpired) as refused:  # uploaded: the studio must renew it
        service.upload(world.owner_id, world.session_id, [Upload("b.jpg", camera_photo(77))])
    assert refused.value.status == 409 and HANGUL.search(refused.value.message("ko"))
    assert len(service.session_detail(world.owner_id, world.session_id)["photos"]) == 1


# -- the key at rest -----------------------------------------------------------------------------


def test_the_key_in_the_database_is_sealed(service: StudioService, world: StudioWorld) -> None:
    with service.context.unit_of_work() as session:
        row = session.execute(text("SELECT * FROM studio_credentials")).mappings().one()
    blob = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    assert b"PRIVATE KEY" not in blob
    record = _record(service, world.studio_id)
    key_pem = key_service_for(service.context).open_row(record)
    key = serialization.load_pem_private_key(key_pem, None)
    leaf = x509.load_pem_x509_certificates(record.certificate_chain_pem.encode())[0]
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(der, spki) == leaf.public_key().public_bytes(der, spki)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.private_numbers().private_value.to_bytes(32, "big") not in blob
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert pkcs8 not in blob and pkcs8[-32:] not in blob
    record.leaf_sha256 = "0" * 64  # the sealed key is bound to its certificate
    with pytest.raises(KeyUnavailable):
        key_service_for(service.context).open_row(record)


def test_a_kek_rotation_reseals_the_studio_key(service: StudioService, world: StudioWorld) -> None:
    keys = key_service_for(service.context)
    before = _record(service, world.studio_id).kek_id
    keys.rotate(kek_from_hex("ab" * 32, "test"))
    after = _record(service, world.studio_id)
    assert after.kek_id != before and after.kek_id == keys.kek_id
    photo = service.upload(world.owner_id, world.session_id, [Upload("a.jpg", camera_photo(74))])
    data = service.store.get(str(photo[0]["cid"]))
    assert data is not None and read_manifest(data, "image/jpeg") is not None


# -- the HTTP API --------------------------------------------------------------------------------


def test_get_shows_only_certificate_facts(people: dict[str, Actor]) -> None:
    studio = people["studio"]
    _open_studio(people)
    answer = studio.client.get("/api/studio/me/credentials")
    assert answer.status_code == 200, answer.text
    facts = answer.json()
    assert facts["subject_organisation"] == "광안리 사진관"
    assert facts["source"] == "dev" and facts["issuer"] and facts["not_after"]
    assert "PRIVATE" not in answer.text and "key" not in " ".join(facts)
    admin = people["admin"]
    assert admin.client.get("/api/studio/me/credentials").status_code == 403


def test_a_pending_studio_has_none_yet(people: dict[str, Actor]) -> None:
    studio = people["studio"]
    body = {"name_ko": "송정 사진관", "business_number": bizno("567891234")}
    assert studio.client.post("/api/studio/studios", json=body, headers=studio.headers).is_success
    for lang in ("ko", "en"):
        answer = studio.client.get(f"/api/studio/me/credentials?lang={lang}")
        assert answer.status_code == 404 and answer.json()["error"]["message"]


def test_a_studio_replaces_them_with_an_uploaded_chain(
    people: dict[str, Actor],
    platform: PlatformContext,  # noqa: F811 (fixture)
) -> None:
    studio = people["studio"]
    session_id = _open_studio(people)
    chain = make_chain()
    answer = _put(studio, chain.chain_pem, chain.key_pem)
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "uploaded"
    assert answer.json()["subject_organisation"] == UPLOADED_ORG
    assert answer.json()["issuer"] == "Busan Trust Services"
    uploaded = studio.client.post(
        f"/api/studio/sessions/{session_id}/photos",
        files=[("files", ("a.jpg", camera_photo(75), "image/jpeg"))],
        headers=studio.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    photo = uploaded.json()[0]
    original = studio.client.get(f"/api/studio/photos/{photo['id']}/image?size=original")
    assert original.status_code == 200
    manifest = read_manifest(original.content, "image/jpeg", chain.root_pem)
    assert manifest is not None and failures(manifest) == []
    assert manifest["validation_state"] == "Trusted"
    assert active(manifest)["signature_info"]["issuer"] == UPLOADED_ORG
    assert photo["sha256"] == hashlib.sha256(original.content).hexdigest()
    # a later approval (for example after a suspension) keeps the uploaded certificate
    studio_id = studio.client.get("/api/studio/me/studio").json()["id"]
    StudioCredentialService(platform).ensure_development(studio_id)
    assert studio.client.get("/api/studio/me/credentials").json()["source"] == "uploaded"
    for url in ("/api/studio/me/credentials", "/api/studio/me/studio"):
        body = studio.client.get(url).text
        assert "PRIVATE" not in body and chain.key_pem.splitlines()[1] not in body
    assert chain.key_pem.splitlines()[1] not in answer.text + uploaded.text


def _encrypted_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret-password"),
    ).decode()


def _bad_cases() -> dict[str, tuple[str, str]]:
    good = make_chain()
    other = make_chain()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_chain = make_chain(leaf_key=rsa_key)
    p384_chain = make_chain(leaf_key=p384)
    expired = make_chain(valid=(timedelta(days=-400), timedelta(days=-1)))
    future = make_chain(valid=(timedelta(days=10), timedelta(days=400)))
    no_signature = make_chain(digital_signature=False)
    wrong_eku = make_chain(eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    certs = good.chain_pem.split("-----END CERTIFICATE-----\n")
    reversed_chain = "-----END CERTIFICATE-----\n".join([certs[0], certs[2], certs[1], ""])
    return {
        "garbage chain": ("not a certificate", good.key_pem),
        "garbage key": (
            good.chain_pem,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ),
        "key in the chain field": (good.key_pem, good.key_pem),
        "mismatched key": (good.chain_pem, other.key_pem),
        "expired leaf": (expired.chain_pem, expired.key_pem),
        "not yet valid": (future.chain_pem, future.key_pem),
        "rsa key": (rsa_chain.chain_pem, rsa_chain.key_pem),
        "p-384 key": (p384_chain.chain_pem, p384_chain.key_pem),
        "rsa key for a p-256 leaf": (good.chain_pem, _pem_key(rsa_key)),
        "no digitalSignature": (no_signature.chain_pem, no_signature.key_pem),
        "server auth only": (wrong_eku.chain_pem, wrong_eku.key_pem),
        "chain out of order": (reversed_chain, good.key_pem),
        "password-protected key": (good.chain_pem, _encrypted_key()),
        "non-ascii": (good.chain_pem + "인증서", good.key_pem),
        "empty": ("", ""),
    }


def test_bad_credentials_are_a_422_in_korean_and_english(people: dict[str, Actor]) -> None:
    studio = people["studio"]
    _open_studio(people)
    before = studio.client.get("/api/studio/me/credentials").json()
    for case, (chain, key) in _bad_cases().items():
        messages = {}
        for lang in ("ko", "en"):
            answer = _put(studio, chain, key, lang)
            assert answer.status_code == 422, (case, answer.text)
            error = answer.json()["error"]
            messages[lang] = error["message"]
            secret = [line for line in key.splitlines() if len(line) > 20 and "-" not in line]
            assert not [line for line in secret if line in answer.text], case
        assert HANGUL.search(messages["ko"]), case
        assert not HANGUL.search(messages["en"]) and messages["en"] != messages["ko"], case
    assert studio.client.get("/api/studio/me/credentials").json() == before  # nothing changed


def test_each_check_names_its_reason() -> None:
    from busanchain.studio.credentials import parse_credentials

    reasons = {
        "expired leaf": "expired",
        "mismatched key": "does not belong",
        "rsa key": "P-256",
        "garbage chain": "PEM",
        "no digitalSignature": "digitalSignature",
        "server auth only": "extended key usage",
        "chain out of order": "issuer",
        "password-protected key": "password",
    }
    cases = _bad_cases()
    for case, needle in reasons.items():
        with pytest.raises(InvalidCredentials) as refused:
            parse_credentials(*cases[case])
        assert needle in refused.value.message("en"), (case, refused.value.message("en"))
        assert refused.value.status == 422


def test_the_console_shows_the_content_credentials(people: dict[str, Actor]) -> None:
    studio = people["studio"]
    _open_studio(people)
    page = studio.client.get("/studio?lang=ko")
    assert page.status_code == 200
    assert 'data-testid="content-credentials"' in page.text
    assert "콘텐츠 자격 증명" in page.text and "광안리 사진관" in page.text
    assert "PRIVATE" not in page.text
    english = studio.client.get("/studio?lang=en")
    assert "Content Credentials" in english.text
