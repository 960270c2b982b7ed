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


MAX_BANK_REFERENCE = 64
_ACCOUNT_RE = re.compile(r"^[0-9][0-9-]{8,18}[0-9]$")
# Korean bank codes (금융결제원 표준 은행코드) the city's transfer file may name.
BANKS: dict[str, tuple[str, str]] = {
    "002": ("KDB산업은행", "KDB"),
    "003": ("IBK기업은행", "IBK"),
    "004": ("KB국민은행", "KB Kookmin Bank"),
    "011": ("NH농협은행", "NH Bank"),
    "020": ("우리은행", "Woori Bank"),
    "023": ("SC제일은행", "SC First Bank"),
    "031": ("iM뱅크", "iM Bank"),
    "032": ("부산은행", "Busan Bank"),
    "034": ("광주은행", "Kwangju Bank"),
    "039": ("경남은행", "Kyongnam Bank"),
    "045": ("새마을금고", "MG Community Credit"),
    "048": ("신협", "Shinhyup"),
    "071": ("우체국", "Korea Post"),
    "081": ("하나은행", "Hana Bank"),
    "088": ("신한은행", "Shinhan Bank"),
    "089": ("케이뱅크", "K bank"),
    "090": ("카카오뱅크", "KakaoBank"),
    "092": ("토스뱅크", "Toss Bank"),
}


def parse_bank_reference(value: object) -> str:
    """A bank transfer reference as an official types it: 1-64 printable characters."""
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > MAX_BANK_REFERENCE or not text.isprintable():
        raise ValidationFailed(
            "The bank transfer reference must be 1 to 64 printable characters.",
            "은행 이체 참조번호는 1~64자의 출력 가능한 문자여야 합니다.",
            field="bank_reference",
        )
    return text


def parse_bank_account(bank_code: object, number: object) -> tuple[str, str]:
    """(bank code, account digits) of a settlement account; hyphens are dropped."""
    code = str(bank_code).strip()
    if code not in BANKS:
        raise ValidationFailed(
            "Choose the bank from the list.", "은행을 목록에서 고르세요.", field="bank_code"
        )
    text = str(number).strip().replace(" ", "")
    digits = text.replace("-", "")
    if not _ACCOUNT_RE.match(text) or not 10 <= len(digits) <= 16:
        raise ValidationFailed(
            "An account number has 10 to 16 digits (hyphens allowed).",
            "계좌번호는 10~16자리 숫자입니다(하이픈 가능).",
            field="bank_account_number",
        )
    return code, digits


def mask_account(number: str) -> str:
    """An account number as pages show it: only the last four digits."""
    return "*" * max(len(number) - 4, 0) + number[-4:]


def bank_name(code: str, lang: str) -> str:
    """A bank's name in the page's language (the code itself when unknown)."""
    names = BANKS.get(code)
    if names is None:
        return code
    return names[1] if lang == "en" else names[0]
