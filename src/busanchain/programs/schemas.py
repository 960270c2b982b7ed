"""API shapes of the programs feature (rules are checked by the service, in ko/en)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProgramIn(BaseModel):
    """A new program. Dates: `YYYY-MM-DD` (midnight Korea time) or ISO 8601 date-time."""

    name_ko: str = Field(max_length=200, examples=["부산 청년수당"])
    name_en: str = Field(max_length=200, examples=["Busan youth allowance"])
    kind: str = Field("other", max_length=20, examples=["youth"])
    budget: int = Field(examples=[100_000_000])
    per_person_amount: int = Field(examples=[300_000])
    per_payment_cap: int = 0
    daily_cap: int = 0
    starts_at: str = Field(max_length=40, examples=["2026-12-01"])
    expires_at: str = Field(max_length=40, examples=["2027-11-30"])
    allowed_categories: list[int] = Field(default_factory=list, max_length=200)
    blocked_categories: list[int] = Field(default_factory=list, max_length=200)
    allowed_districts: list[int | str] = Field(default_factory=list, max_length=200)
    min_age: int | None = None
    max_age: int | None = None
    publish: bool = Field(True, description="Lock the budget on chain now (else a draft).")


class ProgramPatch(BaseModel):
    """Changes: names and ages always; every rule while the program is a draft."""

    name_ko: str | None = Field(None, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    budget: int | None = None
    per_person_amount: int | None = None
    per_payment_cap: int | None = None
    daily_cap: int | None = None
    starts_at: str | None = Field(None, max_length=40)
    expires_at: str | None = Field(None, max_length=40)
    allowed_categories: list[int] | None = Field(None, max_length=200)
    blocked_categories: list[int] | None = Field(None, max_length=200)
    allowed_districts: list[int | str] | None = Field(None, max_length=200)
    min_age: int | None = None
    max_age: int | None = None


class RoundIn(BaseModel):
    """A disbursement round: one Merkle root (claimed on first use) or direct batch grants."""

    mode: str = Field("merkle", pattern="^(merkle|direct)$")
