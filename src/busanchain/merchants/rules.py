"""Pure rules of the merchants feature: business numbers, merchant codes, KST business days.

Nothing here touches the database or the chain.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, time, timedelta, timezone

from eth_utils import keccak

from busanchain.domain.errors import ValidationFailed

KST = timezone(timedelta(hours=9))
BIZNO_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
_BIZNO_RE = re.compile(r"^[0-9]{3}-?[0-9]{2}-?[0-9]{5}$")
# Crockford base32 without 0 and 1 as well (people read codes off a sticker on the counter).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_PREFIX = "BS-"
CODE_LENGTH = 6
CODE_RE = re.compile(rf"^BS-[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


def business_number_check_digit(first_nine: str) -> int:
    """The check digit of a Korean business registration number (사업자등록번호)."""
    digits = [int(c) for c in first_nine]
    total = sum(d * w for d, w in zip(digits, BIZNO_WEIGHTS, strict=True))
    total += digits[8] * 5 // 10
    return (10 - total % 10) % 10


def parse_business_number(value: object) -> str:
    """The 10 digits of a valid business registration number ("123-45-67890" or bare)."""
    text = str(value).strip()
    if not _BIZNO_RE.match(text):
        raise ValidationFailed(
            "A business registration number has 10 digits (for example 123-45-67890).",
            "사업자등록번호는 10자리 숫자입니다(예: 123-45-67890).",
            field="business_number",
        )
    digits = text.replace("-", "")
    if business_number_check_digit(digits[:9]) != int(digits[9]):
        raise ValidationFailed(
            "This business registration number is not valid (check digit).",
            "유효하지 않은 사업자등록번호입니다(검증 번호 불일치).",
            field="business_number",
        )
    return digits


def business_number_hash(digits: str) -> str:
    """The salted hash stored off and on chain: 0x + keccak("busanchain:bizno:" + digits)."""
    return "0x" + keccak(text=f"busanchain:bizno:{digits}").hex()


def new_code() -> str:
    """A fresh random merchant code such as "BS-7K2Q9P"."""
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return CODE_PREFIX + body


def parse_code(value: object) -> str:
    """A merchant code in canonical form (upper case), or ValidationFailed."""
    code = str(value).strip().upper()
    if not CODE_RE.match(code):
        raise ValidationFailed(
            "A merchant code looks like BS-7K2Q9P.",
            "가맹점 코드는 BS-7K2Q9P 형식입니다.",
            field="code",
        )
    return code


def business_day(moment: datetime | None = None) -> date:
    """The KST calendar day of a moment (now by default)."""
    return (moment or datetime.now(UTC)).astimezone(KST).date()


def day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a KST business day."""
    start = datetime.combine(day, time(0), tzinfo=KST).astimezone(UTC)
    return start, start + timedelta(days=1)


def bank_reference(day: date, settlement_id: int) -> str:
    """The (simulated) bank transfer reference of a settlement: BNK-YYYYMMDD-000123."""
    return f"BNK-{day:%Y%m%d}-{settlement_id:06d}"
