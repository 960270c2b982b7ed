"""API models for activation. Bad input fails here with 422, before any service runs."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from busanchain.accounts.schemas import MAX_PASSWORD, MIN_PASSWORD, check_password
from busanchain.accounts.schemas import normalise_username as _username_rule
from busanchain.activation.rules import (
    MAX_PHONE_CHARS,
    MAX_RESIDENT_CHARS,
    normalise_mobile,
    parse_resident_number,
)
from busanchain.domain.errors import ValidationFailed

# Korean and English hints per field, for the page's form errors.
FIELD_HINTS = {
    "resident_number": (
        "주민등록번호 13자리(YYMMDD-NNNNNNN)를 입력하세요.",
        "Enter the 13-digit resident registration number (YYMMDD-NNNNNNN).",
    ),
    "phone": (
        "휴대전화 번호를 입력하세요. 예: 010-1234-5678",
        "Enter your Korean mobile number, for example 010-1234-5678.",
    ),
    "username": (
        "아이디는 영문 소문자·숫자·_ . - 로 3~32자이며 영문이나 숫자로 시작해야 합니다.",
        "The username has 3-32 characters: a-z, 0-9, '_', '.', '-', starting with a letter "
        "or digit.",
    ),
    "password": (
        f"비밀번호는 {MIN_PASSWORD}~{MAX_PASSWORD}자여야 합니다.",
        f"The password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
    ),
}


def _domain_rule(rule: Callable[[str], str], value: str) -> str:
    """Run a domain rule; its ValidationFailed becomes pydantic's ValueError."""
    try:
        return rule(value)
    except ValidationFailed as exc:
        raise ValueError(exc.message_en) from None


class ActivationIn(BaseModel):
    """The resident's proof (resident number, registered mobile) and the new credentials."""

    model_config = ConfigDict(extra="forbid")

    resident_number: str = Field(
        min_length=13,
        max_length=MAX_RESIDENT_CHARS,
        description="주민등록번호: 13 digits, the dash is optional.",
        examples=["900101-1234567"],
    )
    phone: str = Field(
        min_length=10,
        max_length=MAX_PHONE_CHARS,
        description="The mobile number the city registered, in any common format.",
        examples=["010-1234-5678"],
    )
    username: str = Field(min_length=3, max_length=32)
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)

    @field_validator("resident_number")
    @classmethod
    def _resident_number(cls, value: str) -> str:
        return _domain_rule(parse_resident_number, value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return _domain_rule(normalise_mobile, value)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return _username_rule(value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return check_password(value)

    def __repr__(self) -> str:
        return "ActivationIn(<redacted>)"


class ActivationOut(BaseModel):
    """The activated account; the session cookie is set. Send `csrf_token` as `X-CSRF-Token`
    on unsafe requests from now on."""

    username: str
    wallet_address: str | None = Field(description="The custodial address the allowance goes to.")
    csrf_token: str
    next_url: str = "/wallet"
    replayed: bool = Field(
        description="True when the account was activated by an earlier identical request."
    )
