"""Transaction signing with local keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import coincurve
from eth_account import Account
from eth_account.signers.local import LocalAccount

# The EIP-712 domain fields every platform contract uses (name, version, chainId, contract).
EIP712_DOMAIN_TYPE: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@dataclass(frozen=True)
class SignedTx:
    """A signed raw transaction and its hash (0x-prefixed lower-case hex)."""

    raw: bytes
    hash: str


class Signer:
    """Signs transactions and typed data for one secp256k1 key."""

    def __init__(self, account: LocalAccount) -> None:
        self._account = account
        self.address: str = account.address
        self._key: coincurve.PrivateKey | None = None

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTx:
        """Sign a transaction dict (nonce, gas, fees and chainId included)."""
        signed = self._account.sign_transaction(tx)
        return SignedTx(
            raw=bytes(signed.raw_transaction), hash="0x" + signed.hash.hex().removeprefix("0x")
        )

    def sign_typed_data(self, full_message: dict[str, Any]) -> bytes:
        """Sign EIP-712 typed data; returns the 65-byte signature."""
        signed = self._account.sign_typed_data(full_message=full_message)
        return bytes(signed.signature)

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte EIP-712 digest computed by the caller; returns r || s || v (v 27/28)."""
        if len(digest) != 32:
            raise ValueError("a digest is 32 bytes")
        if self._key is None:  # libsecp256k1 directly: a quarter of eth_account's time
            self._key = coincurve.PrivateKey(bytes(self._account.key))
        signature = self._key.sign_recoverable(digest, hasher=None)  # r || s (low) || recid
        return signature[:64] + bytes([signature[64] + 27])

    def __repr__(self) -> str:
        return f"Signer({self.address})"


def signer_from_key(private_key_hex: str) -> Signer:
    """A signer for a 0x-prefixed (or bare) 32-byte hex private key."""
    return Signer(Account.from_key(private_key_hex))
