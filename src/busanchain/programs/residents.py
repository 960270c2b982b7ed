"""Residents' identity: the salted hash of the resident registration number, sealed name/phone.

The resident registration number (주민등록번호) is never stored: only
HMAC-SHA256(salt, 13 digits). The salt is a platform secret kept outside the database, so a
leaked database cannot be brute-forced over the small space of valid numbers:
`BUSANCHAIN_RESIDENT_SALT` (64 hex digits) if set, else the file
`<data_dir>/secrets/resident_salt.hex` (created once, mode 0600, like the KEK file). It is
independent of the KEK, so a KEK rotation does not change any hash.

Name and phone are sealed together as one JSON document per resident (envelope encryption
under the platform KEK, the AAD binding the resident hash). A bulk import seals with a
`PersonalSealer`: one data key per batch, each row with its own nonce and its own copy of
the data key wrapped by the KEK under the row's AAD, so every row opens (and is re-sealed by
a KEK rotation) exactly like a row sealed alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from json.encoder import encode_basestring  # type: ignore[attr-defined]

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from busanchain.config import Settings
from busanchain.keys.envelope import (
    DEK_BYTES,
    NONCE_BYTES,
    Envelope,
    associated_data,
    open_envelope,
    seal,
)
from busanchain.keys.kek import KekProvider, _parse_hex_key, ensure_kek_file, load_kek
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.programs.tables import ResidentRecord

SALT_ENV = "BUSANCHAIN_RESIDENT_SALT"
SEAL_VERSION = 1
_SALT_SERVICE = "programs.resident_salt"
_KEK_SERVICE = "programs.kek"


def resident_salt(settings: Settings) -> bytes:
    """The HMAC key for resident numbers (env var, else a 0600 file under the data dir)."""
    value = settings.extra.get(SALT_ENV)
    if value:
        return _parse_hex_key(value, SALT_ENV)
    path = ensure_kek_file(settings.data_dir / "secrets" / "resident_salt.hex")
    return _parse_hex_key(path.read_text(encoding="ascii"), str(path))


@dataclass(frozen=True)
class ResidentCrypto:
    """Hashes resident numbers and seals personal data for one platform."""

    salt: bytes
    kek: KekProvider

    def hash_id(self, digits: str) -> str:
        """HMAC-SHA256 of the 13-digit resident number, hex."""
        return hmac.new(self.salt, digits.encode("ascii"), hashlib.sha256).hexdigest()

    def seal_personal(self, resident_hash: str, name: str, phone: str) -> Envelope:
        """Seal {"name", "phone"} for one resident."""
        return seal(self.kek, personal_plaintext(name, phone), _aad(resident_hash))

    def sealer(self) -> PersonalSealer:
        """A batch sealer with a fresh data key (one per import chunk)."""
        return PersonalSealer(self.kek)

    def open_personal(self, row: ResidentRecord) -> dict[str, str]:
        """Open a resident's sealed name and phone (current KEK only; see open_resident)."""
        envelope = Envelope(row.kek_id, row.wrapped_dek, row.nonce, row.ciphertext)
        plain = open_envelope([self.kek], envelope, row.sealed_aad())
        return dict(json.loads(plain.decode("utf-8")))


def open_resident(context: PlatformContext, row: ResidentRecord) -> dict[str, str]:
    """Open a resident's name and phone with the KeyService keyring (also retired KEKs, so
    rows keep opening during and after `busanchain keys rotate`, which re-seals them too)."""
    plain = key_service_for(context).open_row(row)
    return dict(json.loads(plain.decode("utf-8")))


def _aad(resident_hash: str) -> bytes:
    return associated_data("resident", SEAL_VERSION, resident_hash)


def personal_plaintext(name: str, phone: str) -> bytes:
    """The sealed document, byte for byte `json.dumps({"name", "phone"}, ensure_ascii=False)`."""
    return f'{{"name": {encode_basestring(name)}, "phone": {encode_basestring(phone)}}}'.encode()


class PersonalSealer:
    """Seals many residents with one data key (DEK) per batch; see the module docstring.

    AES-GCM with random 96-bit nonces stays safe far beyond a million messages per key.
    """

    def __init__(self, kek: KekProvider) -> None:
        self.kek = kek
        self.kek_id = kek.key_id
        dek = AESGCM.generate_key(bit_length=DEK_BYTES * 8)
        self._dek = dek
        self._aead = AESGCM(dek)
        self._prefix = f'["busanchain","resident",{SEAL_VERSION},"'

    def seal(self, resident_hash: str, name: str, phone: str) -> tuple[bytes, bytes, bytes]:
        """(wrapped DEK, nonce, ciphertext) of one resident; the KEK id is `kek_id`.

        `resident_hash` is 64 hex digits, so the AAD equals `_aad(resident_hash)`.
        """
        aad = (self._prefix + resident_hash + '"]').encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, personal_plaintext(name, phone), aad)
        return self.kek.wrap(self._dek, aad), nonce, sealed


def resident_crypto(context: PlatformContext) -> ResidentCrypto:
    """The process's ResidentCrypto for a context (built on first use)."""
    crypto = context.services.get(_SALT_SERVICE)
    if crypto is None:
        crypto = ResidentCrypto(resident_salt(context.settings), _kek(context))
        context.services[_SALT_SERVICE] = crypto
    return crypto  # type: ignore[no-any-return]


def _kek(context: PlatformContext) -> KekProvider:
    kek = context.services.get(_KEK_SERVICE)
    if kek is None:
        kek = load_kek(context.settings)
        context.services[_KEK_SERVICE] = kek
    return kek  # type: ignore[no-any-return]


def mask_name(name: str) -> str:
    """김민수 -> 김*수, 이수 -> 이*, Alice -> A***e."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
