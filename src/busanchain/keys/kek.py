"""Key-encryption keys (KEKs): the keys that wrap each row's data key.

A KEK never lives in the database. The default providers read a 256-bit key from a file or
from an environment variable; a KMS provider only has to implement `KekProvider` (its
`wrap`/`unwrap` would call the KMS's encrypt/decrypt with the same associated data).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from busanchain.config import Settings
from busanchain.domain.errors import BusanchainError, ConfigurationError
from busanchain.keys.secretfile import ensure_secret_file

KEK_BYTES = 32
_NONCE_BYTES = 12
_WRAP_FORMAT = b"\x01"  # version byte of a wrapped data key


class KeyUnavailable(BusanchainError):
    """A sealed secret could not be opened: wrong KEK, tampered row or swapped row."""

    status = 500
    code = "key_unavailable"
    default_ko = "암호화된 키를 열 수 없습니다."
    default_en = "An encrypted key could not be opened."


@runtime_checkable
class KekProvider(Protocol):
    """Wraps and unwraps data keys; `key_id` names the KEK (stored next to each row)."""

    @property
    def key_id(self) -> str:
        """A stable, non-secret name of this KEK."""
        ...

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        """Encrypt a data key, binding the associated data."""
        ...

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """Decrypt a wrapped data key; raise KeyUnavailable on any mismatch."""
        ...


class LocalKek:
    """A KEK held in process memory (loaded from a file or an env var), AES-256-GCM."""

    def __init__(self, key: bytes, source: str) -> None:
        if len(key) != KEK_BYTES:
            raise ConfigurationError("A key-encryption key must be 32 bytes (64 hex digits).")
        self._aead = AESGCM(key)
        fingerprint = hashlib.sha256(b"busanchain-kek-id\x00" + key).hexdigest()[:16]
        # The id does not depend on where the key was loaded from, so a KEK can move from
        # an env var to a file (or back) without touching the database.
        self._key_id = f"local:{fingerprint}"
        self._source = source

    @property
    def key_id(self) -> str:
        """`local:<fingerprint>`; the fingerprint reveals nothing about the key."""
        return self._key_id

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        """AES-GCM encrypt the data key under the KEK; the KEK id is bound too."""
        nonce = os.urandom(_NONCE_BYTES)
        return _WRAP_FORMAT + nonce + self._aead.encrypt(nonce, dek, self._bind(aad))

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """Reverse of `wrap`; KeyUnavailable if the KEK, the AAD or the blob differ."""
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _WRAP_FORMAT:
            raise KeyUnavailable(kek_id=self._key_id)
        nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, self._bind(aad))
        except InvalidTag:
            raise KeyUnavailable(kek_id=self._key_id) from None

    def _bind(self, aad: bytes) -> bytes:
        return self._key_id.encode() + b"\x00" + aad

    def __repr__(self) -> str:
        return f"LocalKek({self._key_id} from {self._source})"


def _parse_hex_key(text: str, where: str) -> bytes:
    value = text.strip().removeprefix("0x")
    if len(value) != KEK_BYTES * 2:
        raise ConfigurationError(f"The key-encryption key in {where} must be 64 hex digits.")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ConfigurationError(
            f"The key-encryption key in {where} must be 64 hex digits."
        ) from None


def kek_from_hex(value: str, source: str = "env") -> LocalKek:
    """A KEK from 64 hex digits (for example the BUSANCHAIN_KEK environment variable)."""
    return LocalKek(_parse_hex_key(value, source), source)


def kek_from_file(path: Path) -> LocalKek:
    """A KEK from a file holding 64 hex digits; refuses a file others can read."""
    if not path.is_file():
        raise ConfigurationError(f"Key-encryption key file not found: {path}")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ConfigurationError(f"Key-encryption key file {path} must not be readable by others.")
    return LocalKek(_parse_hex_key(path.read_text(encoding="ascii"), str(path)), "file")


def ensure_kek_file(path: Path) -> Path:
    """Create a new random KEK file with 0600 permissions unless it already exists.

    Concurrent first starts are safe: the file appears complete or not at all
    (`secretfile.ensure_secret_file`).

    Args:
        path: Where the KEK lives (outside the database, ideally outside the data dir).

    Returns:
        The path, for chaining.
    """
    return ensure_secret_file(path, KEK_BYTES)


def default_kek_path(settings: Settings) -> Path:
    """The KEK file: settings.kek_path, else `<data_dir>/secrets/kek.hex`."""
    return settings.kek_path or settings.data_dir / "secrets" / "kek.hex"


def load_kek(settings: Settings) -> KekProvider:
    """The configured KEK: the env var value (settings.kek_env) first, else the file."""
    if settings.kek_env:
        return kek_from_hex(settings.kek_env, "env")
    return kek_from_file(default_kek_path(settings))
