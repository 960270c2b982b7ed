"""C2PA content credentials on the stored original: signed after the strip, verifiable."""

from __future__ import annotations

import json

import pytest

from busanchain.domain.errors import ConfigurationError
from busanchain.studio.cid import cid_of_bytes
from busanchain.studio.images import process_upload
from busanchain.studio.provenance import (
    StudioCredentials,
    issue_studio_credentials,
    read_manifest,
    sign_photo,
)
from tests.studio import corpus
from tests.studio.test_images import assert_no_metadata

APP11_JUMBF = frozenset({0xEB})
STUDIO = "Busan Photo Studio"


@pytest.fixture(scope="module")
def credentials() -> StudioCredentials:
    return issue_studio_credentials(STUDIO)


def active(manifest: dict) -> dict:
    return manifest["manifests"][manifest["active_manifest"]]


def failures(manifest: dict) -> list[str]:
    results = manifest.get("validation_results", {}).get("activeManifest", {})
    return [entry["code"] for entry in results.get("failure", [])]


def test_signed_photo_carries_a_valid_manifest(credentials: StudioCredentials) -> None:
    upload = corpus.camera_jpeg(corpus.scene(800, 600))
    photo = process_upload(upload, "a.jpg", credentials=credentials)
    assert photo.content_credentials
    manifest = read_manifest(photo.original.data, "image/jpeg", credentials.trust_anchor_pem)
    assert manifest is not None
    assert failures(manifest) == []
    assert manifest["validation_state"] == "Trusted"
    claim = active(manifest)
    assert claim["signature_info"]["issuer"] == STUDIO
    assert claim["signature_info"]["alg"].upper() == "ES256"
    actions = claim["assertions"][0]["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created"


def test_hashes_and_cid_cover_the_signed_file(credentials: StudioCredentials) -> None:
    upload = corpus.camera_jpeg(corpus.scene(400, 300))
    unsigned = process_upload(upload, "a.jpg")
    signed = process_upload(upload, "a.jpg", credentials=credentials)
    assert signed.cid == cid_of_bytes(signed.original.data)
    assert signed.cid != unsigned.cid
    assert read_manifest(unsigned.original.data, "image/jpeg") is None


def test_signing_adds_no_personal_metadata(credentials: StudioCredentials) -> None:
    upload = corpus.camera_jpeg(corpus.scene(400, 300))
    photo = process_upload(upload, "a.jpg", credentials=credentials)
    assert_no_metadata(photo, extra_markers=APP11_JUMBF)
    manifest = json.dumps(read_manifest(photo.original.data, "image/jpeg"))
    for secret in ("Kim", "Canon", "2026:05:01", "GPS", "MAKERNOTE", "35.0"):
        assert secret not in manifest


def test_without_the_test_ca_the_signer_is_untrusted(credentials: StudioCredentials) -> None:
    signed = sign_photo(corpus.jpeg(corpus.scene(64, 48)), "image/jpeg", credentials)
    manifest = read_manifest(signed, "image/jpeg")
    assert manifest is not None
    assert failures(manifest) == ["signingCredential.untrusted"]


def test_tampering_is_detected(credentials: StudioCredentials) -> None:
    signed = sign_photo(corpus.jpeg(corpus.scene(400, 300)), "image/jpeg", credentials)
    tampered = bytearray(signed)
    tampered[-200] ^= 0x55  # inside the entropy-coded image data
    manifest = read_manifest(bytes(tampered), "image/jpeg")
    assert manifest is not None
    assert "assertion.dataHash.mismatch" in failures(manifest)


def test_png_with_alpha_is_signed_too(credentials: StudioCredentials) -> None:
    image = corpus.scene(200, 150).convert("RGBA")
    image.putalpha(100)
    photo = process_upload(corpus.png(image), "a.png", credentials=credentials)
    manifest = read_manifest(photo.original.data, "image/png", credentials.trust_anchor_pem)
    assert manifest is not None and failures(manifest) == []


def test_mismatched_key_is_a_configuration_error(credentials: StudioCredentials) -> None:
    other = issue_studio_credentials("Other Studio")
    broken = StudioCredentials(credentials.certificate_chain_pem, other.private_key_pem)
    with pytest.raises(ConfigurationError):
        sign_photo(corpus.jpeg(corpus.scene(64, 48)), "image/jpeg", broken)


def test_only_stored_formats_are_signed(credentials: StudioCredentials) -> None:
    with pytest.raises(ValueError):
        sign_photo(corpus.webp(corpus.scene(64, 48)), "image/webp", credentials)
