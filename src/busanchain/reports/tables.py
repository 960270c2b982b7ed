"""Expiry clawbacks: one row per program whose unspent backing went back to the treasury.

`PolicyVoucher.withdrawExpired` may be called by anyone, once per program. The row records
who asked on this platform (if anyone did), the outbox entry and, once mined, the amount from
the `ExpiredWithdrawn` event with its transaction hash and block, for the clawback report.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow


class ClawbackState:
    """Life cycle of a clawback row."""

    PENDING = "pending"  # withdrawExpired is in the outbox
    CONFIRMED = "confirmed"  # ExpiredWithdrawn seen on chain
    FAILED = "failed"  # the transaction reverted; a new request may retry


class ClawbackRecord(Base):
    """The withdrawal of an expired program's backing to the treasury."""

    __tablename__ = "clawbacks"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer, unique=True)
    state: Mapped[str] = mapped_column(String(12), default=ClawbackState.PENDING)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    tx_hash: Mapped[str | None] = mapped_column(String(66), default=None)
    block_number: Mapped[int | None] = mapped_column(BigInteger, default=None)
    requested_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
