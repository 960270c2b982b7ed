"""Envelope encryption: a fresh 256-bit data key per secret, wrapped by a KEK.

The secret is encrypted with AES-256-GCM under its own data key (DEK); the DEK is wrapped by
the KEK. Both layers bind the same associated data (AAD), which names the owner of the
secret (user id, address or field, format version), so a ciphertext copied onto another
user's row fails to decrypt.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from busanchain.keys.kek import KekProvider, KeyUnavailable

DEK_BYTES = 32
NONCE_BYTES = 12


@dataclass(frozen=True)
class Envelope:
    """What is stored: KEK id, wrapped data key, nonce and ciphertext."""

    kek_id: str
    wrapped_dek: bytes
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"Envelope(kek_id={self.kek_id!r}, {len(self.ciphertext)} bytes)"


def associated_data(purpose: str, version: int, *parts: str | int) -> bytes:
    """Canonical AAD: an unambiguous JSON array of the purpose, version and owner parts."""
    return json.dumps(["busanchain", purpose, version, *parts], separators=(",", ":")).encode()


def seal(kek: KekProvider, plaintext: bytes, aad: bytes) -> Envelope:
    """Encrypt `plaintext` under a fresh data key and wrap that key with `kek`."""
    dek = AESGCM.generate_key(bit_length=DEK_BYTES * 8)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(dek).encrypt(nonce, plaintext, aad)
    wrapped = kek.wrap(dek, aad)
    del dek
    return Envelope(kek.key_id, wrapped, nonce, ciphertext)


def open_envelope(keyring: Iterable[KekProvider], envelope: Envelope, aad: bytes) -> bytes:
    """Decrypt an envelope with whichever KEK of the keyring wrapped it.

    Raises:
        KeyUnavailable: no KEK with that id, or the AAD, KEK or ciphertext do not match.
    """
    kek = next((k for k in keyring if k.key_id == envelope.kek_id), None)
    if kek is None:
        raise KeyUnavailable(kek_id=envelope.kek_id)
    dek = kek.unwrap(envelope.wrapped_dek, aad)
    try:
        return AESGCM(dek).decrypt(envelope.nonce, envelope.ciphertext, aad)
    except (InvalidTag, ValueError):
        raise KeyUnavailable(kek_id=envelope.kek_id) from None
    finally:
        del dek
