"""Voucher payments (relayed in batches) and refunds.

A payment row is written, with its Idempotency-Key, before anything is sent; the relayer
puts pending rows into PolicyVoucher.payBatch transactions through the outbox and records
the outcome of each payment from the receipt's `Paid` / `PaymentFailed` events.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow


class PaymentState:
    """Life cycle of a payment."""

    PENDING = "pending"  # accepted and signed, waiting for the relayer
    SUBMITTED = "submitted"  # inside a payBatch transaction in the outbox
    CONFIRMED = "confirmed"  # Paid event seen
    FAILED = "failed"  # PaymentFailed event seen (reason set), or refused before sending


class PaymentRecord(Base):
    """One citizen payment to a merchant."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("payer", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer, index=True)
    payer: Mapped[str] = mapped_column(String(42), index=True)
    payer_user_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    merchant: Mapped[str] = mapped_column(String(42), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    order_ref: Mapped[str] = mapped_column(String(66))  # bytes32 hex; an order id hash
    order_id: Mapped[str | None] = mapped_column(String(64), default=None)  # merchant's own id
    nonce: Mapped[int] = mapped_column(BigInteger)
    deadline: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), index=True, default=PaymentState.PENDING)
    reason: Mapped[int | None] = mapped_column(Integer, default=None)
    batch_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)
    chain_payment_id: Mapped[int | None] = mapped_column(BigInteger, default=None, unique=True)
    day: Mapped[int | None] = mapped_column(Integer, default=None)  # contract's KST day number
    business_day: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, default=None)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)


class PayerNonce(Base):
    """A payer's acceptance cursor, taken (row-locked) by every accepted payment.

    For a platform (custodial) wallet it is the next EIP-712 payment nonce the platform signs
    with (sequential: 256 share one storage slot). A self-custody wallet picks its own nonces;
    its cursor only counts accepted payments. Either way a request whose checks read an older
    cursor is stale: that is what serialises one payer's payments across worker processes.
    """

    __tablename__ = "payer_nonces"

    payer: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger, default=0)


class RefundRecord(Base):
    """A merchant's refund of (part of) a payment back into the citizen's vouchers."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending/confirmed/failed
    entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reason: Mapped[str | None] = mapped_column(String(300), default=None)
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
