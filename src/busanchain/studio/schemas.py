"""Request bodies of the studio API (answers are the service's JSON-ready dicts)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudioIn(_Body):
    """Register a studio."""

    name_ko: str = Field(max_length=100)
    name_en: str | None = Field(default=None, max_length=100)
    business_number: str = Field(max_length=20)
    default_royalty_bps: int = Field(default=500, ge=0, le=1_000)


class DecisionIn(_Body):
    """A platform admin's note on a decision."""

    note: str | None = Field(default=None, max_length=300)


class PhotographerIn(_Body):
    """Add a photographer; `account` links a platform username (royalties go to its wallet)."""

    name: str = Field(max_length=100)
    royalty_bps: int | None = Field(default=None, ge=0, le=1_000)
    account: str | None = Field(default=None, max_length=100)


class SessionIn(_Body):
    """Open a shooting session, named by a code (no personal data)."""

    code: str = Field(max_length=32)
    photographer_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class ClaimIn(_Body):
    """Claim a photo with its code; `to` defaults to the caller's custodial wallet.

    `publish` also shows it in the gallery at once (same transaction; platform wallet only)."""

    code: str = Field(max_length=70)
    to: str | None = Field(default=None, max_length=42)
    publish: bool = False


class PublishIn(_Body):
    """Publish (true) or make private again (false)."""

    published: bool


class CredentialsIn(_Body):
    """Replace the studio's C2PA credentials: a PEM chain (leaf first) and its P-256 key."""

    certificate_chain_pem: str = Field(min_length=1, max_length=40_000)
    private_key_pem: str = Field(min_length=1, max_length=4_000)

    def __repr__(self) -> str:
        return f"CredentialsIn({len(self.certificate_chain_pem)} chars of PEM, key hidden)"
