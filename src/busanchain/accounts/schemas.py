"""API models for accounts. Bad input fails here with 422, before any service runs."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from busanchain.domain.addresses import parse_address
from busanchain.domain.errors import ValidationFailed
from busanchain.domain.personal import clean_text, parse_name, parse_phone
from busanchain.domain.roles import Role

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256


def _clean(value: str) -> str:
    """Reject control characters; a domain ValidationFailed becomes pydantic's ValueError."""
    try:
        return clean_text(value, 10_000)
    except ValidationFailed as exc:
        raise ValueError(exc.message_en) from None


def normalise_username(value: str) -> str:
    """Lower-case ASCII letters, digits, `_ . -`; 3-32 characters; starts with a letter/digit."""
    value = _clean(value).lower()
    if not USERNAME_RE.match(value):
        raise ValueError(
            "username: 3-32 characters: a-z, 0-9, '_', '.', '-', starting with a letter or digit"
        )
    return value


def normalise_email(value: str) -> str:
    """A plain ASCII email address, lower-cased."""
    value = _clean(value).lower()
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise ValueError("not a valid email address")
    return value


def check_password(value: str) -> str:
    """Any characters that encode as UTF-8; length 8-256 (NFC is applied when hashing)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the password contains invalid characters") from None
    return value


class PersonalIn(BaseModel):
    """Personal data; fields left out are not changed, null clears a field."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    birth_date: date | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        try:
            return None if value is None else parse_name(value)
        except ValidationFailed as exc:
            raise ValueError(exc.message_en) from None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        try:
            return None if value is None else parse_phone(value)
        except ValidationFailed as exc:
            raise ValueError(exc.message_en) from None


class SignupIn(PersonalIn):
    """Self sign-up. Only citizen, merchant, studio and developer may be chosen here."""

    username: str = Field(min_length=3, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    roles: list[Role] = Field(default_factory=lambda: [Role.CITIZEN], min_length=1, max_length=7)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return normalise_username(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalise_email(value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return check_password(value)


class LoginIn(BaseModel):
    """Log in by username or email; `totp_code` is required for accounts with TOTP."""

    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    totp_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$")

    @field_validator("login")
    @classmethod
    def _login(cls, value: str) -> str:
        return _clean(value).lower()

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return check_password(value)


class TotpCodeIn(BaseModel):
    """A six-digit TOTP code."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6}$")


class RoleChangeIn(BaseModel):
    """Roles to grant and to revoke (admin only)."""

    model_config = ConfigDict(extra="forbid")

    grant: list[Role] = Field(default_factory=list, max_length=7)
    revoke: list[Role] = Field(default_factory=list, max_length=7)


class SiweNonceIn(BaseModel):
    """The external address the user wants to link."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(max_length=42)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return parse_address(value)
        except ValidationFailed as exc:
            raise ValueError(exc.message_en) from None


class SiweVerifyIn(BaseModel):
    """The signed EIP-4361 message and its 65-byte signature."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=2000)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class UserOut(BaseModel):
    """A user as the API shows it."""

    id: int
    username: str
    email: str | None
    roles: list[Role] = Field(description="Roles in force for this session.")
    held_roles: list[Role] = Field(description="All roles granted to the user.")
    totp_enabled: bool
    second_factor_required: bool = Field(
        description="True when some held role needs a TOTP-verified session to take effect."
    )
    custodial_address: str | None
    linked_wallets: list[str]


class SessionOut(BaseModel):
    """The logged-in user and the CSRF token to send as `X-CSRF-Token` on unsafe requests."""

    user: UserOut
    csrf_token: str


class ProfileOut(UserOut):
    """A user with their personal data (only for the user themself or an admin)."""

    name: str | None
    phone: str | None
    birth_date: date | None


class TotpEnrollOut(BaseModel):
    """A new TOTP secret to put into an authenticator app; confirm it with a code."""

    secret: str
    otpauth_uri: str


class TotpConfirmOut(BaseModel):
    """TOTP is on; the session id was rotated and the CSRF token changed."""

    totp_enabled: bool
    csrf_token: str


class SiweChallengeOut(BaseModel):
    """An EIP-4361 message to sign with the external wallet."""

    message: str
    nonce: str
    expires_at: datetime


class LinkedWalletOut(BaseModel):
    """A wallet linked to the account."""

    address: str


class RolesOut(BaseModel):
    """The roles a user holds after a change."""

    user_id: int
    roles: list[Role]
