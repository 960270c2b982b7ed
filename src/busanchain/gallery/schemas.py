"""Request bodies of the gallery API (answers are the service's JSON-ready dicts)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

TOKEN_ID_MAX = 2**63 - 1
TokenId = Annotated[int, Field(ge=1, le=TOKEN_ID_MAX)]
WON_MAX = 10**12
TIME_MAX = 2**40


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderIn(_Body):
    """A listing or an offer: token, price in won and expiry (Unix seconds)."""

    token_id: int = Field(ge=1, le=TOKEN_ID_MAX)
    price: int = Field(ge=1, le=WON_MAX)
    expiry: int = Field(ge=1, le=TIME_MAX)


class AuctionIn(_Body):
    """An English auction: reserve in won, start and end (Unix seconds)."""

    token_id: int = Field(ge=1, le=TOKEN_ID_MAX)
    reserve: int = Field(ge=1, le=WON_MAX)
    start: int = Field(ge=0, le=TIME_MAX)
    end: int = Field(ge=1, le=TIME_MAX)
    min_increment_bps: int = Field(default=500, ge=0, le=10_000)


class BidIn(_Body):
    """A bid in won."""

    amount: int = Field(ge=1, le=WON_MAX)


class ReportIn(_Body):
    """A report about a token."""

    token_id: int = Field(ge=1, le=TOKEN_ID_MAX)
    kind: Literal["copy", "theft", "other"]
    text: str = Field(min_length=1, max_length=1000)


class FreezeIn(_Body):
    """A moderator's freeze: a reason code (on chain) and a note (database only)."""

    reason_code: Literal["copy", "theft", "abuse", "privacy", "other"]
    note: str | None = Field(default=None, max_length=500)


class UnfreezeIn(_Body):
    """A moderator's note on lifting a freeze."""

    note: str | None = Field(default=None, max_length=500)


class AppealIn(_Body):
    """An owner's appeal against a freeze."""

    text: str = Field(min_length=1, max_length=2000)


class ExhibitionIn(_Body):
    """An exhibition of published works."""

    title_ko: str = Field(min_length=1, max_length=120)
    title_en: str | None = Field(default=None, max_length=120)
    description: str | None = Field(default=None, max_length=4000)
    token_ids: list[TokenId] = Field(min_length=1, max_length=100)
