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


class NftEventOut(BaseModel):
    """One step in a PhotoNFT's provenance (amounts in whole won, decimal text)."""

    token_id: str
    kind: str = Field(
        description="claim, mint, transfer, publish, unpublish, sale, auction_created, bid, "
        "auction_settled, auction_cancelled, frozen, unfrozen or appealed"
    )
    block_number: int
    log_index: int
    tx_hash: str
    time: datetime | None = Field(description="Block time (null if the block is not indexed)")
    contract: str = Field(description="The emitting contract (PhotoNFT or Gallery)")
    contract_name: str | None
    from_address: str | None = Field(
        description="Previous owner, seller, bidder, studio (claim) or moderator"
    )
    to_address: str | None = Field(description="New owner, buyer or auction winner")
    price: str | None = Field(description="Sale price, bid, winning bid or auction reserve")
    royalty: str | None = Field(description="Royalty paid out of a sale (ERC-2981, capped)")
    royalty_receiver: str | None
    fee: str | None = Field(description="Platform fee paid out of a sale")
    sale_kind: str | None = Field(description="listing, offer or auction (sales only)")
    auction_id: str | None
    ref: str | None = Field(
        description="Order hash or auction id (sale), content hash (claim), reason code (frozen)"
    )


class NftProvenance(BaseModel):
    """A token's indexed events, oldest first."""

    token_id: str
    nft_contract: str
    total: int
    offset: int
    limit: int
    events: list[NftEventOut]


class NftSummary(BaseModel):
    """A PhotoNFT as the index sees it (blocks up to the indexed tip)."""

    token_id: str
    nft_contract: str
    minted: bool
    studio: str | None = Field(description="The studio whose voucher minted the token")
    owner: str | None = Field(description="Current owner (the Gallery while in an auction)")
    in_auction: bool = Field(description="True while the Gallery holds the token in escrow")
    published: bool
    frozen: bool
    sales: int
    volume: str = Field(description="Sum of sale prices, whole won")
    royalties_paid: str = Field(description="Sum of royalties paid, whole won")
    fees_paid: str = Field(description="Sum of platform fees paid, whole won")
    last_sale_price: str | None
    events: int
    provenance_url: str


class AddressDetail(BaseModel):
    """An address with its DigitalWon balance and its history."""

    address: str
    contract_name: str | None
    digital_won: TokenBalance
    transactions: TxPage
    transfers: TransferPage
    nft_events: list[NftEventOut] = Field(
        default_factory=list, description="Newest PhotoNFT events from or to the address"
    )
    nft_event_total: int = 0


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
