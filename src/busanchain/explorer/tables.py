"""Tables of the chain index: blocks, transactions, logs, token transfers, NFT events, cursor.

The index holds exactly one canonical chain: a block is keyed by its number, and on a reorg
everything above the common ancestor is deleted and indexed again. Logs and token transfers
are keyed by (block hash, log index), so indexing the same block twice changes nothing.
Large integers (wei values, token amounts) are stored as decimal text: uint256 does not fit
a 64-bit column, and SQLite's NUMERIC would silently round it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow

HASH = String(66)
ADDRESS = String(42)
UINT256 = String(80)


class IndexedBlock(Base):
    """One block of the canonical chain as the indexer saw it."""

    __tablename__ = "explorer_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(HASH, unique=True)
    parent_hash: Mapped[str] = mapped_column(HASH)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    tx_count: Mapped[int] = mapped_column(Integer)
    gas_used: Mapped[int] = mapped_column(BigInteger)
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    miner: Mapped[str] = mapped_column(ADDRESS)


class IndexedTransaction(Base):
    """A mined transaction with its receipt and, for known contracts, its decoded call."""

    __tablename__ = "explorer_transactions"
    __table_args__ = (
        Index("ix_explorer_transactions_block", "block_number", "tx_index"),
        Index("ix_explorer_transactions_from", "from_address", "block_number"),
        Index("ix_explorer_transactions_to", "to_address", "block_number"),
    )

    hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    tx_index: Mapped[int] = mapped_column(Integer)
    from_address: Mapped[str] = mapped_column(ADDRESS)
    to_address: Mapped[str | None] = mapped_column(ADDRESS)
    value: Mapped[str] = mapped_column(UINT256)
    input: Mapped[str] = mapped_column(Text)
    nonce: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[int] = mapped_column(Integer)
    gas_used: Mapped[int] = mapped_column(BigInteger)
    contract_address: Mapped[str | None] = mapped_column(ADDRESS)
    function_name: Mapped[str | None] = mapped_column(String(200))
    function_args: Mapped[str | None] = mapped_column(Text)
    revert_reason: Mapped[str | None] = mapped_column(Text)


class IndexedLog(Base):
    """One event log, decoded when its emitter is a known contract."""

    __tablename__ = "explorer_logs"
    __table_args__ = (
        Index("ix_explorer_logs_tx", "tx_hash", "log_index"),
        Index("ix_explorer_logs_block_number", "block_number"),
        Index("ix_explorer_logs_address", "address", "block_number"),
    )

    block_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(HASH)
    tx_index: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(ADDRESS)
    topics: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)
    event_name: Mapped[str | None] = mapped_column(String(200))
    event_args: Mapped[str | None] = mapped_column(Text)


class TokenTransfer(Base):
    """A DigitalWon Transfer event, kept apart for fast address history."""

    __tablename__ = "explorer_token_transfers"
    __table_args__ = (
        Index("ix_explorer_token_transfers_from", "from_address", "block_number"),
        Index("ix_explorer_token_transfers_to", "to_address", "block_number"),
        Index("ix_explorer_token_transfers_block_number", "block_number"),
    )

    block_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(HASH)
    token: Mapped[str] = mapped_column(ADDRESS)
    from_address: Mapped[str] = mapped_column(ADDRESS)
    to_address: Mapped[str] = mapped_column(ADDRESS)
    amount: Mapped[str] = mapped_column(UINT256)


class NftEvent(Base):
    """One step in a PhotoNFT's history, from the PhotoNFT or Gallery contract's logs.

    `kind` is one of NFT_EVENT_KINDS. A sale row carries its whole split (price, royalty and
    its receiver, fee), so the royalties paid for a token are the sum over its sale rows.
    Auction bids and settlements name only the auction on chain; their token id is taken from
    the indexed `auction_created` row. Only addresses, amounts and hashes are stored.
    """

    __tablename__ = "explorer_nft_events"
    __table_args__ = (
        Index("ix_explorer_nft_events_token", "token_id", "block_number", "log_index"),
        Index("ix_explorer_nft_events_block_number", "block_number"),
        Index("ix_explorer_nft_events_from", "from_address", "block_number"),
        Index("ix_explorer_nft_events_to", "to_address", "block_number"),
        Index("ix_explorer_nft_events_auction", "contract", "auction_id"),
    )

    block_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(HASH)
    contract: Mapped[str] = mapped_column(ADDRESS)  # the emitter: PhotoNFT or Gallery
    token_id: Mapped[str] = mapped_column(UINT256)
    kind: Mapped[str] = mapped_column(String(24))
    from_address: Mapped[str | None] = mapped_column(ADDRESS)
    to_address: Mapped[str | None] = mapped_column(ADDRESS)
    price: Mapped[str | None] = mapped_column(UINT256)
    royalty: Mapped[str | None] = mapped_column(UINT256)
    royalty_receiver: Mapped[str | None] = mapped_column(ADDRESS)
    fee: Mapped[str | None] = mapped_column(UINT256)
    sale_kind: Mapped[str | None] = mapped_column(String(16))
    auction_id: Mapped[str | None] = mapped_column(UINT256)
    ref: Mapped[str | None] = mapped_column(HASH)  # order hash, auction ref or reason code


class IndexerCursor(Base):
    """Where an indexer stands: the last block it stored, for progress display."""

    __tablename__ = "explorer_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    reorgs: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
