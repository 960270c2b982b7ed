"""Queries on the chain index. Functions take a session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from busanchain.explorer.tables import (
    IndexedBlock,
    IndexedLog,
    IndexedTransaction,
    IndexerCursor,
    NftEvent,
    TokenTransfer,
)

CURSOR_NAME = "main"


@dataclass
class BlockRows:
    """Everything the index stores for one block."""

    block: IndexedBlock
    transactions: list[IndexedTransaction]
    logs: list[IndexedLog]
    transfers: list[TokenTransfer]
    nft_events: list[NftEvent] = field(default_factory=list)


# ---- writing -----------------------------------------------------------------------------


def tip(session: Session) -> IndexedBlock | None:
    """The highest stored block."""
    stmt = select(IndexedBlock).order_by(IndexedBlock.number.desc()).limit(1)
    return session.scalars(stmt).first()


def hashes_at(session: Session, numbers: Sequence[int]) -> dict[int, str]:
    """Stored block hashes by number (numbers not stored are absent)."""
    stmt = select(IndexedBlock.number, IndexedBlock.hash).where(IndexedBlock.number.in_(numbers))
    return {number: block_hash for number, block_hash in session.execute(stmt)}


def store_block(session: Session, rows: BlockRows) -> None:
    """Insert a block with its rows; if the same block is stored already, upsert each row.

    Rows are upserted by primary key (block by number, transaction by hash, log, transfer
    and NFT event by (block hash, log index)) with select-then-insert-or-update, which is
    portable between SQLite and PostgreSQL and leaves an unchanged row unchanged.
    """
    existing = session.get(IndexedBlock, rows.block.number)
    everything = [rows.block, *rows.transactions, *rows.logs, *rows.transfers, *rows.nft_events]
    if existing is None:
        session.add_all(everything)
    else:
        for row in everything:
            session.merge(row)
    session.flush()


def delete_above(session: Session, number: int) -> int:
    """Delete every block above `number` and all that belongs to it; returns blocks deleted."""
    session.execute(delete(TokenTransfer).where(TokenTransfer.block_number > number))
    session.execute(delete(NftEvent).where(NftEvent.block_number > number))
    session.execute(delete(IndexedLog).where(IndexedLog.block_number > number))
    session.execute(delete(IndexedTransaction).where(IndexedTransaction.block_number > number))
    result = session.execute(delete(IndexedBlock).where(IndexedBlock.number > number))
    return int(getattr(result, "rowcount", 0) or 0)


def auction_tokens(session: Session, contract: str, auction_ids: Sequence[str]) -> dict[str, str]:
    """Token ids of indexed auctions of one Gallery, by auction id (unknown ids are absent)."""
    stmt = select(NftEvent.auction_id, NftEvent.token_id).where(
        NftEvent.contract == contract,
        NftEvent.kind == "auction_created",
        NftEvent.auction_id.in_(auction_ids),
    )
    return {str(auction_id): token_id for auction_id, token_id in session.execute(stmt)}


def get_cursor(session: Session) -> IndexerCursor | None:
    """The indexer's progress row."""
    return session.get(IndexerCursor, CURSOR_NAME)


def save_cursor(
    session: Session, chain_id: int, number: int, block_hash: str, reorgs: int = 0
) -> IndexerCursor:
    """Record the indexer's progress (adding `reorgs` to the reorg counter)."""
    cursor = get_cursor(session)
    if cursor is None:
        cursor = IndexerCursor(name=CURSOR_NAME, chain_id=chain_id, reorgs=0)
        session.add(cursor)
    cursor.chain_id = chain_id
    cursor.block_number = number
    cursor.block_hash = block_hash
    cursor.reorgs = (cursor.reorgs or 0) + reorgs
    session.flush()
    return cursor


def delete_cursor(session: Session) -> None:
    """Forget the progress row (when the index is emptied)."""
    session.execute(delete(IndexerCursor).where(IndexerCursor.name == CURSOR_NAME))


# ---- reading -----------------------------------------------------------------------------


def latest_blocks(session: Session, limit: int, before: int | None = None) -> list[IndexedBlock]:
    """The newest blocks, newest first (optionally only those below `before`)."""
    stmt = select(IndexedBlock).order_by(IndexedBlock.number.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(IndexedBlock.number < before)
    return list(session.scalars(stmt))


def latest_transactions(session: Session, limit: int) -> list[IndexedTransaction]:
    """The newest transactions, newest first."""
    stmt = (
        select(IndexedTransaction)
        .order_by(IndexedTransaction.block_number.desc(), IndexedTransaction.tx_index.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def block_by_number(session: Session, number: int) -> IndexedBlock | None:
    """A stored block by number."""
    return session.get(IndexedBlock, number)


def block_by_hash(session: Session, block_hash: str) -> IndexedBlock | None:
    """A stored block by hash."""
    return session.scalars(select(IndexedBlock).where(IndexedBlock.hash == block_hash)).first()


def block_transactions(session: Session, number: int) -> list[IndexedTransaction]:
    """A block's transactions in order."""
    stmt = (
        select(IndexedTransaction)
        .where(IndexedTransaction.block_number == number)
        .order_by(IndexedTransaction.tx_index)
    )
    return list(session.scalars(stmt))


def transaction(session: Session, tx_hash: str) -> IndexedTransaction | None:
    """A stored transaction by hash."""
    return session.get(IndexedTransaction, tx_hash)


def transaction_logs(session: Session, tx_hash: str) -> list[IndexedLog]:
    """The logs a transaction emitted, in order."""
    stmt = select(IndexedLog).where(IndexedLog.tx_hash == tx_hash).order_by(IndexedLog.log_index)
    return list(session.scalars(stmt))


def _touches(address: str) -> ColumnElement[bool]:
    return or_(
        IndexedTransaction.from_address == address,
        IndexedTransaction.to_address == address,
        IndexedTransaction.contract_address == address,
    )


def address_transactions(
    session: Session, address: str, limit: int, offset: int
) -> list[IndexedTransaction]:
    """Transactions sent by, sent to or creating an address, newest first."""
    stmt = (
        select(IndexedTransaction)
        .where(_touches(address))
        .order_by(IndexedTransaction.block_number.desc(), IndexedTransaction.tx_index.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def count_address_transactions(session: Session, address: str) -> int:
    """How many transactions touch an address."""
    stmt = select(func.count()).select_from(IndexedTransaction).where(_touches(address))
    return int(session.scalar(stmt) or 0)


def _moves(address: str) -> ColumnElement[bool]:
    return or_(TokenTransfer.from_address == address, TokenTransfer.to_address == address)


def address_transfers(
    session: Session, address: str, limit: int, offset: int
) -> list[TokenTransfer]:
    """DigitalWon transfers from or to an address, newest first."""
    stmt = (
        select(TokenTransfer)
        .where(_moves(address))
        .order_by(TokenTransfer.block_number.desc(), TokenTransfer.log_index.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def count_address_transfers(session: Session, address: str) -> int:
    """How many DigitalWon transfers touch an address."""
    stmt = select(func.count()).select_from(TokenTransfer).where(_moves(address))
    return int(session.scalar(stmt) or 0)


def count_blocks(session: Session) -> int:
    """How many blocks are stored."""
    return int(session.scalar(select(func.count()).select_from(IndexedBlock)) or 0)


# ---- NFT provenance ----------------------------------------------------------------------


def token_events(
    session: Session, contracts: Sequence[str], token_id: str, limit: int, offset: int
) -> list[tuple[NftEvent, int | None]]:
    """A token's events from the given contracts in chain order, with their block times."""
    stmt = (
        select(NftEvent, IndexedBlock.timestamp)
        .join(IndexedBlock, IndexedBlock.number == NftEvent.block_number, isouter=True)
        .where(NftEvent.token_id == token_id, NftEvent.contract.in_(contracts))
        .order_by(NftEvent.block_number, NftEvent.log_index)
        .limit(limit)
        .offset(offset)
    )
    return [(event, timestamp) for event, timestamp in session.execute(stmt)]


def count_token_events(session: Session, contracts: Sequence[str], token_id: str) -> int:
    """How many indexed events a token has."""
    stmt = (
        select(func.count())
        .select_from(NftEvent)
        .where(NftEvent.token_id == token_id, NftEvent.contract.in_(contracts))
    )
    return int(session.scalar(stmt) or 0)


def last_token_event(
    session: Session, contracts: Sequence[str], token_id: str, kinds: Sequence[str]
) -> NftEvent | None:
    """The newest event of one of `kinds` for a token."""
    stmt = (
        select(NftEvent)
        .where(
            NftEvent.token_id == token_id,
            NftEvent.contract.in_(contracts),
            NftEvent.kind.in_(kinds),
        )
        .order_by(NftEvent.block_number.desc(), NftEvent.log_index.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def token_sales(session: Session, contract: str, token_id: str) -> list[NftEvent]:
    """A token's sales in chain order (amounts are decimal text: summed in Python)."""
    stmt = (
        select(NftEvent)
        .where(NftEvent.token_id == token_id, NftEvent.contract == contract)
        .where(NftEvent.kind == "sale")
        .order_by(NftEvent.block_number, NftEvent.log_index)
    )
    return list(session.scalars(stmt))


def _nft_moves(address: str, contracts: Sequence[str]) -> ColumnElement[bool]:
    touches = or_(NftEvent.from_address == address, NftEvent.to_address == address)
    return touches & NftEvent.contract.in_(contracts)


def address_nft_events(
    session: Session, address: str, contracts: Sequence[str], limit: int
) -> list[NftEvent]:
    """The newest NFT events from or to an address."""
    stmt = (
        select(NftEvent)
        .where(_nft_moves(address, contracts))
        .order_by(NftEvent.block_number.desc(), NftEvent.log_index.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def count_address_nft_events(session: Session, address: str, contracts: Sequence[str]) -> int:
    """How many NFT events touch an address."""
    stmt = select(func.count()).select_from(NftEvent).where(_nft_moves(address, contracts))
    return int(session.scalar(stmt) or 0)


OWNERSHIP_KINDS = ("claim", "mint", "transfer", "publish", "unpublish", "sale", "auction_settled")


def nft_ownership_events(session: Session, since_block: int) -> list[tuple[str, int, int, int]]:
    """(block hash, log index, block number, token id) of every event at or after
    `since_block` that changed a token's owner or publication."""
    rows = session.execute(
        select(NftEvent.block_hash, NftEvent.log_index, NftEvent.block_number, NftEvent.token_id)
        .where(NftEvent.block_number >= since_block, NftEvent.kind.in_(OWNERSHIP_KINDS))
        .order_by(NftEvent.block_number, NftEvent.log_index)
    ).all()
    return [(h, int(i), int(n), int(t)) for h, i, n, t in rows]
