"""Queries over the outbox tables. Repositories never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from busanchain.outbox.tables import NonceCursor, OutboxAttempt, OutboxEntry, OutboxState


class OutboxRepository:
    """Reads and writes outbox rows within the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entry: OutboxEntry) -> OutboxEntry:
        """Insert a new entry and its first attempt."""
        self.session.add(entry)
        self.session.flush()
        self.add_attempt(entry)
        return entry

    def add_attempt(self, entry: OutboxEntry) -> None:
        """Record the entry's current signed bytes as an attempt."""
        self.session.add(
            OutboxAttempt(
                entry_id=entry.id,
                tx_hash=entry.tx_hash,
                raw_tx=entry.raw_tx,
                max_fee_per_gas=entry.max_fee_per_gas,
            )
        )
        self.session.flush()

    def get(self, entry_id: int, lock: bool = False) -> OutboxEntry | None:
        """One entry by id (optionally row-locked)."""
        stmt = select(OutboxEntry).where(OutboxEntry.id == entry_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def by_reference(self, reference: str) -> OutboxEntry | None:
        """The entry created for a caller's reference (for example a transfer id)."""
        return self.session.scalars(
            select(OutboxEntry).where(OutboxEntry.reference == reference)
        ).first()

    def attempt_hashes(self, entry_id: int) -> list[str]:
        """All hashes ever signed for an entry, newest first."""
        rows = self.session.scalars(
            select(OutboxAttempt.tx_hash)
            .where(OutboxAttempt.entry_id == entry_id)
            .order_by(OutboxAttempt.id.desc())
        )
        return list(rows)

    def open_entries(self, chain_id: int) -> Sequence[OutboxEntry]:
        """Entries not yet mined, in creation order.

        Creation order keeps each sender's nonces in order (ids and nonces are assigned
        together under the sender's lock) and also the order between senders: a merchant's
        refund is replayed after the relayer's payment it refunds (ordering by sender would
        replay it first, and it would revert).
        """
        return self.session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.chain_id == chain_id, OutboxEntry.state.in_(OutboxState.OPEN))
            .order_by(OutboxEntry.id)
        ).all()

    def lock_wallet(self, wallet: str) -> None:
        """Serialise, until the transaction ends, the operations acting for `wallet`.

        PostgreSQL: a transaction-scoped advisory lock on the wallet. SQLite: nothing to do,
        every write transaction begins IMMEDIATE and so runs alone.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            key = f"busanchain-wallet:{wallet.lower()}"
            self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})

    def open_for_wallet(self, chain_id: int, wallet: str) -> Sequence[OutboxEntry]:
        """Entries recorded as open that act for `wallet` (at most 20, oldest first)."""
        return self.session.scalars(
            select(OutboxEntry)
            .where(
                OutboxEntry.chain_id == chain_id,
                OutboxEntry.on_behalf_of == wallet,
                OutboxEntry.state.in_(OutboxState.OPEN),
            )
            .order_by(OutboxEntry.id)
            .limit(20)
        ).all()

    def unfinalized_mined(self, chain_id: int, finalized_block: int) -> Sequence[OutboxEntry]:
        """Mined entries whose block is not final yet (they could still be lost)."""
        return self.session.scalars(
            select(OutboxEntry)
            .where(
                OutboxEntry.chain_id == chain_id,
                OutboxEntry.state.in_(OutboxState.MINED),
                OutboxEntry.block_number > finalized_block,
            )
            .order_by(OutboxEntry.id)
        ).all()

    def cursor(self, chain_id: int, sender: str) -> NonceCursor | None:
        """The nonce cursor for a key, row-locked for the rest of the transaction."""
        return self.session.scalars(
            select(NonceCursor)
            .where(NonceCursor.chain_id == chain_id, NonceCursor.sender == sender)
            .with_for_update()
        ).first()

    def add_cursor(self, chain_id: int, sender: str, next_nonce: int) -> NonceCursor:
        """Create the cursor for a key seen for the first time."""
        cursor = NonceCursor(chain_id=chain_id, sender=sender, next_nonce=next_nonce)
        self.session.add(cursor)
        self.session.flush()
        return cursor
