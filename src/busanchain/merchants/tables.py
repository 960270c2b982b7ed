"""Merchants: applications, registered shops, and redemptions of DigitalWon for KRW.

A merchant's public identity is its short `code` (typed by citizens or read from its QR code)
and its wallet address. The owner's name and phone are personal data and live sealed in
`keys.tables.SealedField` under the owner's user id; the business number is stored here only
as the hash that also goes on chain, plus its last three digits for display.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow


class MerchantStatus:
    """Life cycle of a merchant record."""

    APPLIED = "applied"  # waiting for a registrar (a city official)
    REGISTERING = "registering"  # approved; the registry transaction is in the outbox
    ACTIVE = "active"  # registered and active on chain
    SUSPENDED = "suspended"
    REJECTED = "rejected"


class MerchantRecord(Base):
    """A shop that applied to accept allowance vouchers."""

    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # e.g. "BS-7K2Q9P"
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    shop_name_ko: Mapped[str] = mapped_column(String(100))
    shop_name_en: Mapped[str | None] = mapped_column(String(100), default=None)
    business_number_hash: Mapped[str] = mapped_column(String(66), unique=True)
    business_number_tail: Mapped[str] = mapped_column(String(3))
    mcc: Mapped[int] = mapped_column(Integer, index=True)
    district: Mapped[int] = mapped_column(Integer, index=True)
    street_address: Mapped[str | None] = mapped_column(String(200), default=None)
    # The shop's phone for customers: business contact data shown publicly, never on chain.
    # The settlement bank account is financial data: sealed per owner (see service.py).
    customer_phone: Mapped[str | None] = mapped_column(String(20), default=None)
    wallet_address: Mapped[str] = mapped_column(String(42), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=MerchantStatus.APPLIED)
    registry_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    decided_by: Mapped[int | None] = mapped_column(Integer, default=None)
    decision_note: Mapped[str | None] = mapped_column(String(300), default=None)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class SettlementState:
    """Life cycle of a settlement: pending -> burned (awaiting transfer) -> paid; or failed.

    The burn on chain destroys the DigitalWon; the KRW arrives by a bank transfer the city
    makes, which an official records ("paid") with the bank's transfer reference.
    """

    PENDING = "pending"  # permit and redeemFrom are in the outbox
    BURNED = "burned"  # burned on chain; the KRW bank transfer is awaited
    PAID = "paid"  # a city official recorded the bank transfer
    FAILED = "failed"  # the burn reverted; nothing moved


class SettlementRecord(Base):
    """A redemption: the merchant's DigitalWon burned, and the KRW bank transfer it pays for."""

    __tablename__ = "merchant_settlements"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    redemption_ref: Mapped[str] = mapped_column(String(66), unique=True)  # bytes32 on chain
    bank_reference: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    state: Mapped[str] = mapped_column(String(16), index=True, default=SettlementState.PENDING)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # redeemFrom
    permit_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # EIP-2612
    revert_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(default=None)  # burn confirmed
    paid_at: Mapped[datetime | None] = mapped_column(default=None)  # bank transfer recorded
    paid_by: Mapped[int | None] = mapped_column(Integer, default=None)  # the official


class ChangeState:
    """Life cycle of a merchant's request to change its category or district."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ChangeRequestRecord(Base):
    """A merchant's request for a new category (MCC) or district, decided by the registrar.

    Both are rules on chain (programs allow categories and districts), so the owner cannot
    change them directly: approval writes them to the MerchantRegistry.
    """

    __tablename__ = "merchant_change_requests"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    mcc: Mapped[int | None] = mapped_column(Integer, default=None)
    district: Mapped[int | None] = mapped_column(Integer, default=None)
    reason: Mapped[str | None] = mapped_column(String(300), default=None)
    state: Mapped[str] = mapped_column(String(16), index=True, default=ChangeState.PENDING)
    requested_by: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(Integer, default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_note: Mapped[str | None] = mapped_column(String(300), default=None)
