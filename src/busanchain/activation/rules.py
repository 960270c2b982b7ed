"""What the activation form accepts: a resident registration number and a Korean mobile number.

Both are normalised to plain ASCII digits, so `900101-1234567` and `9001011234567`, or
`010-1234-5678`, `+82 10 1234 5678` and `(010) 1234.5678`, mean the same.
"""

from __future__ import annotations

import re
import unicodedata

from busanchain.domain.errors import ValidationFailed
from busanchain.programs.importer import parse_resident_id

MAX_RESIDENT_CHARS = 20
MAX_PHONE_CHARS = 40
_RESIDENT_RE = re.compile(r"^[0-9]{6}-?[0-9]{7}$")
_PHONE_ALLOWED = re.compile(r"^\+?[0-9 ().-]+$")
_MOBILE_RE = re.compile(r"^01[016789][0-9]{7,8}$")
_COUNTRY = "82"


def _fold(value: str, max_chars: int) -> str:
    """NFKC (full-width digits become ASCII) and strip; refuse overlong input early."""
    if len(value) > max_chars * 4:
        return value[: max_chars + 1]
    return unicodedata.normalize("NFKC", value).strip()


def parse_resident_number(value: str) -> str:
    """The 13 ASCII digits of a resident registration number (dash optional).

    The first six digits must be a real date and the seventh a century/sex digit, exactly
    as the importer checks them.

    Raises:
        ValidationFailed: not such a number.
    """
    text = _fold(value, MAX_RESIDENT_CHARS).replace(" ", "")
    if len(text) <= MAX_RESIDENT_CHARS and _RESIDENT_RE.match(text):
        try:
            return parse_resident_id(text)[0]
        except ValueError:
            pass
    raise ValidationFailed(
        "Enter the 13-digit resident registration number (YYMMDD-NNNNNNN).",
        "주민등록번호 13자리(YYMMDD-NNNNNNN)를 입력하세요.",
        field="resident_number",
    )


def normalise_mobile(value: str) -> str:
    """The digits of a Korean mobile number in domestic form (`01012345678`).

    Spaces, dashes, dots and brackets are dropped; a `+82` / `82` country code replaces
    the leading 0 (`+82 10-1234-5678`, and the common `+82 010-…`, both work).

    Raises:
        ValidationFailed: not a Korean mobile number.
    """
    text = _fold(value, MAX_PHONE_CHARS)
    if len(text) <= MAX_PHONE_CHARS and _PHONE_ALLOWED.match(text):
        digits = re.sub(r"[^0-9]", "", text)
        if text.startswith("+") or (digits.startswith(_COUNTRY) and len(digits) >= 11):
            digits = _domestic(digits)
        if _MOBILE_RE.match(digits):
            return digits
    raise ValidationFailed(
        "Enter your Korean mobile number, for example 010-1234-5678.",
        "휴대전화 번호를 입력하세요. 예: 010-1234-5678",
        field="phone",
    )


def _domestic(digits: str) -> str:
    """`821012345678` or `8201012345678` -> `01012345678`; anything else unchanged."""
    if not digits.startswith(_COUNTRY):
        return digits
    rest = digits[len(_COUNTRY) :]
    return rest if rest.startswith("0") else "0" + rest
