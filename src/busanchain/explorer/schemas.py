"""API models of the explorer (the pages render the same objects).

Amounts and wei values are decimal strings: uint256 does not fit a JSON number that
JavaScript can read exactly. Addresses are checksummed; hashes are lower-case hex.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class BlockSummary(BaseModel):
    """A block as listed."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int = Field(description="Unix seconds")
    time: datetime
    tx_count: int
    gas_used: int
    gas_limit: int
    miner: str


class TxSummary(BaseModel):
    """A transaction as listed."""

    hash: str
    block_number: int
    tx_index: int
    from_address: str
    to_address: str | None
    to_name: str | None = Field(None, description="Name of the called contract, if known")
    contract_address: str | None = Field(None, description="Contract created by this tx")
    value: str = Field(description="Native value in wei, decimal")
    status: int = Field(description="1 success, 0 reverted")
    function_name: str | None


class DecodedArg(BaseModel):
    """One decoded argument of a call, event or error."""

    name: str
    type: str
    value: Any


class EventOut(BaseModel):
    """A log emitted by a transaction, decoded when the emitter is known."""

    log_index: int
    address: str
    address_name: str | None
    event_name: str | None
    args: list[DecodedArg] | None
    topics: list[str]
    data: str


class TxDetail(TxSummary):
    """A transaction with its receipt, decoded call, events and revert reason."""

    block_hash: str
    time: datetime | None
    nonce: int
    gas_used: int
    input: str
    function_args: list[DecodedArg] | None
    revert_reason: str | None
    events: list[EventOut]


class BlockDetail(BlockSummary):
    """A block with its transactions."""

    transactions: list[TxSummary]


class BlockList(BaseModel):
    """A page of blocks, newest first; pass `next_before` as `before` for the next page."""

    items: list[BlockSummary]
    next_before: int | None


class TransferOut(BaseModel):
    """A DigitalWon transfer (1 token = 1 KRW)."""

    block_number: int
    tx_hash: str
    log_index: int
    from_address: str
    to_address: str
    amount: str


class TxPage(BaseModel):
    """A page of transactions."""

    page: int
    per_page: int
    total: int
    items: list[TxSummary]


class TransferPage(BaseModel):
    """A page of DigitalWon transfers."""

    page: int
    per_page: int
    total: int
    items: list[TransferOut]


class TokenBalance(BaseModel):
    """The DigitalWon balance of an address, read live from the chain."""

    deployed: bool = Field(description="False when DigitalWon is not deployed on this chain")
    token_address: str | None
    balance: str | None = Field(description="Whole won; null when the chain could not be read")


class AddressDetail(BaseModel):
    """An address with its DigitalWon balance and its history."""

    address: str
    contract_name: str | None
    digital_won: TokenBalance
    transactions: TxPage
    transfers: TransferPage


class ChartPoint(BaseModel):
    """Transactions in one block, for the activity chart."""

    number: int
    tx_count: int


class Overview(BaseModel):
    """The explorer's front page."""

    indexed_tip: int | None
    latest_blocks: list[BlockSummary]
    latest_transactions: list[TxSummary]
    chart: list[ChartPoint]


class SearchResult(BaseModel):
    """Where a search query leads."""

    kind: Literal["block", "transaction", "address"]
    id: str
    page_url: str
    api_url: str
