"""API models for DigitalWon operations."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from busanchain.domain.addresses import MAX_AMOUNT_KRW, parse_address


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class IssueRequest(_Strict):
    """Mint DigitalWon against a KRW deposit."""

    to: str = Field(description="Recipient address (0x + 40 hex digits)", max_length=42)
    amount: int = Field(gt=0, le=MAX_AMOUNT_KRW, description="Amount in KRW (whole won)")
    deposit_reference: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description="The bank's deposit record id; each mints once",
    )

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        return parse_address(value)


class TransferRequest(_Strict):
    """A gasless transfer from the caller's custodial wallet."""

    to: str = Field(description="Payee address", max_length=42)
    amount: int = Field(gt=0, le=MAX_AMOUNT_KRW, description="Amount in KRW (whole won)")

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        return parse_address(value)


class OperationOut(BaseModel):
    """Status of a money-moving operation."""

    operation_id: int
    tx_hash: str
    status: str = Field(description="signed | broadcast | confirmed | reverted | failed")
    block_number: int | None
    revert_reason: str | None
    status_url: str


class BalanceOut(BaseModel):
    """A DigitalWon balance."""

    address: str
    balance: int
