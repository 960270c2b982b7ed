"""Personal data rules: what a name, phone number and birth date may look like.

Personal data lives only in the database, sealed per field; it never goes on chain.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from busanchain.domain.errors import ValidationFailed

PERSONAL_FIELDS = ("name", "phone", "birth_date")
MAX_NAME_CHARS = 60
_PHONE_RE = re.compile(r"^\+?[0-9]{8,15}$")
_EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class PersonalData:
    """A user's personal data; any field may be unknown."""

    name: str | None = None
    phone: str | None = None
    birth_date: date | None = None

    def __repr__(self) -> str:
        # Never print personal data into logs or tracebacks.
        return "PersonalData(<redacted>)"


def clean_text(value: str, max_chars: int) -> str:
    """NFC-normalise text and reject control characters, lone surrogates and overlong text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed(
            "The text contains invalid characters.", "허용되지 않는 문자가 있습니다."
        ) from None
    value = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
        raise ValidationFailed(
            "The text contains control or invisible characters.",
            "제어 문자나 보이지 않는 문자는 쓸 수 없습니다.",
        )
    if len(value) > max_chars:
        raise ValidationFailed(
            f"The text may have at most {max_chars} characters.",
            f"최대 {max_chars}자까지 입력할 수 있습니다.",
        )
    return value


def parse_name(value: str) -> str:
    """A person's name: 1-60 printable characters in any script."""
    name = clean_text(value, MAX_NAME_CHARS)
    if not name:
        raise ValidationFailed("The name must not be empty.", "이름을 입력하세요.")
    return name


def parse_phone(value: str) -> str:
    """A phone number: digits with an optional leading +; spaces and hyphens are dropped."""
    digits = re.sub(r"[\s-]", "", clean_text(value, 30))
    if not _PHONE_RE.match(digits):
        raise ValidationFailed(
            "The phone number must have 8 to 15 digits, for example 010-1234-5678.",
            "전화번호는 8~15자리 숫자여야 합니다. 예: 010-1234-5678",
        )
    return digits


def parse_birth_date(value: date, today: date) -> date:
    """A birth date between 1900-01-01 and today."""
    if not _EARLIEST_BIRTH <= value <= today:
        raise ValidationFailed(
            "The birth date must be between 1900-01-01 and today.",
            "생년월일은 1900-01-01부터 오늘 사이여야 합니다.",
        )
    return value
