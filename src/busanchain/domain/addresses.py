"""Validation of chain identifiers: addresses, hashes and amounts."""

from __future__ import annotations

import re

from eth_utils import is_checksum_address, to_checksum_address

from busanchain.domain.errors import ValidationFailed

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")

# Largest amount accepted in one request: 10^15 KRW (a thousand trillion won) fits uint256
# comfortably and is far above any real allowance or payment.
MAX_AMOUNT_KRW = 10**15


def parse_address(value: str) -> str:
    """Return the checksummed form of an address, or raise ValidationFailed.

    All-lowercase and all-uppercase hex are accepted; mixed case must carry a valid
    EIP-55 checksum (a mistyped character is then caught).
    """
    if not isinstance(value, str) or not _ADDRESS_RE.match(value):
        raise ValidationFailed(
            "Not an address: expected 0x followed by 40 hex digits.",
            "주소 형식이 아닙니다: 0x 뒤에 16진수 40자리가 필요합니다.",
        )
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ValidationFailed(
            "The address checksum is wrong; check for a typing error.",
            "주소의 체크섬이 틀립니다. 오타가 없는지 확인하세요.",
        )
    return str(to_checksum_address(value))


def parse_tx_hash(value: str) -> str:
    """Return a lower-case 32-byte hash, or raise ValidationFailed."""
    if not isinstance(value, str) or not _HASH_RE.match(value):
        raise ValidationFailed(
            "Not a hash: expected 0x followed by 64 hex digits.",
            "해시 형식이 아닙니다: 0x 뒤에 16진수 64자리가 필요합니다.",
        )
    return value.lower()


def parse_amount(value: int) -> int:
    """Check a KRW amount: a whole number from 1 to MAX_AMOUNT_KRW."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT_KRW:
        raise ValidationFailed(
            f"The amount must be a whole number of won from 1 to {MAX_AMOUNT_KRW}.",
            f"금액은 1원부터 {MAX_AMOUNT_KRW}원 사이의 정수여야 합니다.",
        )
    return value
