"""EIP-712 payments for PolicyVoucher.payBatch, hashed by hand for speed.

The digest equals the contract's `paymentDigest` (checked in tests against the chain). The
domain is ("PolicyVoucher", "1", chainId, voucher address).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from Crypto.Hash import keccak as _keccak

from busanchain.chain.signing import Signer


def _h(data: bytes) -> bytes:
    return _keccak.new(data=data, digest_bits=256).digest()


DOMAIN_TYPEHASH = _h(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
PAYMENT_TYPEHASH = _h(
    b"Payment(address payer,uint256 programId,address merchant,uint256 amount,bytes32 orderRef,"
    b"uint256 nonce,uint256 deadline)"
)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address(value: str) -> bytes:
    return bytes(12) + bytes.fromhex(value[2:])


def domain_separator(chain_id: int, voucher: str) -> bytes:
    """The EIP-712 domain separator of a PolicyVoucher deployment."""
    return _h(
        DOMAIN_TYPEHASH + _h(b"PolicyVoucher") + _h(b"1") + _word(chain_id) + _address(voucher)
    )


@dataclass(frozen=True)
class PaymentMessage:
    """The signed fields of one payment."""

    payer: str
    program_id: int
    merchant: str
    amount: int
    order_ref: bytes  # 32 bytes
    nonce: int
    deadline: int

    def struct_hash(self) -> bytes:
        """hashStruct(Payment)."""
        return _h(
            PAYMENT_TYPEHASH
            + _address(self.payer)
            + _word(self.program_id)
            + _address(self.merchant)
            + _word(self.amount)
            + self.order_ref
            + _word(self.nonce)
            + _word(self.deadline)
        )

    def digest(self, separator: bytes) -> bytes:
        """The digest the payer signs."""
        return _h(b"\x19\x01" + separator + self.struct_hash())

    def as_tuple(self, signature: bytes) -> tuple[Any, ...]:
        """The `Payment` struct as payBatch takes it."""
        return (
            self.payer,
            self.program_id,
            self.merchant,
            self.amount,
            self.order_ref,
            self.nonce,
            self.deadline,
            signature,
        )


def sign_payment(signer: Signer, message: PaymentMessage, separator: bytes) -> bytes:
    """The payer's 65-byte signature over a payment."""
    if signer.address.lower() != message.payer.lower():
        raise ValueError("only the payer can sign its payment")
    return signer.sign_digest(message.digest(separator))
