"""Transaction signing with local keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32


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
        signed = self._account.unsafe_sign_hash(Hash32(digest))
        return bytes(signed.signature)

    def __repr__(self) -> str:
        return f"Signer({self.address})"


def signer_from_key(private_key_hex: str) -> Signer:
    """A signer for a 0x-prefixed (or bare) 32-byte hex private key."""
    return Signer(Account.from_key(private_key_hex))
