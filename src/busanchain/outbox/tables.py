"""Outbox tables: every transaction is recorded here before it is broadcast."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow


class OutboxState:
    """Life cycle of an outbox entry."""

    SIGNED = "signed"  # committed, not yet known to be broadcast
    BROADCAST = "broadcast"  # sent to the node at least once
    CONFIRMED = "confirmed"  # mined with status 1
    REVERTED = "reverted"  # mined with status 0
    FAILED = "failed"  # can never be mined (nonce taken by another transaction)

    OPEN = (SIGNED, BROADCAST)
    MINED = (CONFIRMED, REVERTED)


class OutboxEntry(Base):
    """One intended transaction: intent, sender, nonce, signed bytes, hash and state."""

    __tablename__ = "outbox_entries"
    __table_args__ = (UniqueConstraint("chain_id", "sender", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    intent: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(200), index=True)
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    to_address: Mapped[str | None] = mapped_column(String(42))
    # The wallet this transaction acts for, by its off-chain signature over one of its
    # contract nonces (permit, publish consent, approval) or the allowance such a signature
    # gave. At most one operation per such wallet is open at a time (see
    # OutboxService.claim_wallet).
    on_behalf_of: Mapped[str | None] = mapped_column(String(42), index=True)
    value: Mapped[str] = mapped_column(String(80), default="0")
    data: Mapped[str] = mapped_column(Text, default="0x")
    gas: Mapped[int] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[str] = mapped_column(String(80))
    max_priority_fee_per_gas: Mapped[str] = mapped_column(String(80))
    raw_tx: Mapped[str] = mapped_column(Text)
    tx_hash: Mapped[str] = mapped_column(String(66), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True, default=OutboxState.SIGNED)
    replacements: Mapped[int] = mapped_column(Integer, default=0)
    broadcasts: Mapped[int] = mapped_column(Integer, default=0)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    contract_address: Mapped[str | None] = mapped_column(String(42))
    revert_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_broadcast_at: Mapped[datetime | None] = mapped_column()


class OutboxAttempt(Base):
    """Every signed version of an entry (the first and each fee-bumped replacement)."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_entries.id", ondelete="CASCADE"), index=True
    )
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    raw_tx: Mapped[str] = mapped_column(Text)
    max_fee_per_gas: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NonceCursor(Base):
    """The next nonce to hand out for one signing key on one chain."""

    __tablename__ = "nonce_cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sender: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
