"""KEK providers and the envelope format."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from busanchain.config import Settings
from busanchain.domain.errors import ConfigurationError
from busanchain.keys.envelope import associated_data, open_envelope, seal
from busanchain.keys.kek import (
    KekProvider,
    KeyUnavailable,
    default_kek_path,
    ensure_kek_file,
    kek_from_file,
    kek_from_hex,
    load_kek,
)

KEK_A = kek_from_hex("a" * 64)
KEK_B = kek_from_hex("b" * 64)


def test_seal_and_open_round_trip() -> None:
    aad = associated_data("field", 1, 7, "personal.name")
    envelope = seal(KEK_A, "김부산".encode(), aad)
    assert isinstance(KEK_A, KekProvider)
    assert envelope.kek_id == KEK_A.key_id
    assert "김부산".encode() not in envelope.ciphertext
    assert open_envelope([KEK_B, KEK_A], envelope, aad) == "김부산".encode()


def test_wrong_aad_kek_or_tampering_fails() -> None:
    aad = associated_data("custodial-key", 1, 1, "0xabc")
    envelope = seal(KEK_A, b"secret", aad)
    with pytest.raises(KeyUnavailable):
        open_envelope([KEK_A], envelope, associated_data("custodial-key", 1, 2, "0xabc"))
    with pytest.raises(KeyUnavailable):
        open_envelope([KEK_B], envelope, aad)
    tampered = envelope.__class__(
        envelope.kek_id,
        envelope.wrapped_dek,
        envelope.nonce,
        bytes([envelope.ciphertext[0] ^ 1]) + envelope.ciphertext[1:],
    )
    with pytest.raises(KeyUnavailable):
        open_envelope([KEK_A], tampered, aad)


def test_each_seal_uses_a_fresh_data_key() -> None:
    aad = b"x"
    one, two = seal(KEK_A, b"same", aad), seal(KEK_A, b"same", aad)
    assert one.ciphertext != two.ciphertext and one.wrapped_dek != two.wrapped_dek


def test_ensure_kek_file_creates_0600_once(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "kek.hex"
    ensure_kek_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    ensure_kek_file(path)
    assert path.read_text() == first
    assert kek_from_file(path).key_id == kek_from_hex(first.strip()).key_id


def test_kek_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kek.hex"
    path.write_text("c" * 64)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError):
        kek_from_file(path)
    with pytest.raises(ConfigurationError):
        kek_from_file(tmp_path / "missing.hex")


@pytest.mark.parametrize("value", ["", "abc", "g" * 64, "a" * 66])
def test_bad_hex_kek_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigurationError):
        kek_from_hex(value)


def test_load_kek_prefers_env_then_file(tmp_path: Path) -> None:
    base = Settings.from_env(environ={}, root=tmp_path)
    with pytest.raises(ConfigurationError):
        load_kek(base)
    ensure_kek_file(default_kek_path(base))
    from_file = load_kek(base)
    from_env = load_kek(base.with_overrides(kek_env="d" * 64))
    assert from_env.key_id == kek_from_hex("d" * 64).key_id != from_file.key_id
    assert "d" * 64 not in repr(from_env)
