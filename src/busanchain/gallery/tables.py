"""Gallery tables: the order book, sales, auctions and bids, moderation and exhibitions.

Amounts are won (DigitalWon has 0 decimals) and fit a BIGINT; an order's 256-bit salt is
kept as decimal text. Report and appeal texts live only here, never on chain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow


class OrderState:
    """Life cycle of a signed order in the book."""

    OPEN = "open"
    FILLING = "filling"  # a fill transaction is in the outbox
    FILLED = "filled"
    CANCELLED = "cancelled"  # off chain (never co-signed again) or by a nonce bump
    EXPIRED = "expired"
    STALE = "stale"  # the maker no longer owns the token

    LIVE = (OPEN, FILLING)


class OrderSide:
    """Listing (the maker sells) or offer (the maker buys); same numbers as the contract."""

    LISTING = 0
    OFFER = 1


class AuctionState:
    """Life cycle of an auction row."""

    LIVE = "live"
    SETTLED = "settled"
    CANCELLED = "cancelled"


class GalleryOrder(Base):
    """A signed order: its fields exactly as signed, the maker's signature and its hash."""

    __tablename__ = "gallery_orders"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    side: Mapped[int] = mapped_column(Integer)
    maker_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    maker: Mapped[str] = mapped_column(String(42), index=True)
    token_id: Mapped[int] = mapped_column(BigInteger, index=True)
    price: Mapped[int] = mapped_column(BigInteger)
    expiry: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[int] = mapped_column(BigInteger)
    salt: Mapped[str] = mapped_column(String(80))
    order_hash: Mapped[str] = mapped_column(String(66), unique=True)
    signature: Mapped[str] = mapped_column(String(132))
    state: Mapped[str] = mapped_column(String(16), index=True, default=OrderState.OPEN)
    fill_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    taker_user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    fill_error: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class GallerySale(Base):
    """A settled sale, as the contract's `Sale` event reported it."""

    __tablename__ = "gallery_sales"
    __table_args__ = (UniqueConstraint("tx_hash", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    ref: Mapped[str] = mapped_column(String(66))
    tx_hash: Mapped[str] = mapped_column(String(66))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("gallery_orders.id"), default=None)
    auction_id: Mapped[int | None] = mapped_column(ForeignKey("gallery_auctions.id"), default=None)
    token_id: Mapped[int] = mapped_column(BigInteger, index=True)
    seller: Mapped[str] = mapped_column(String(42))
    buyer: Mapped[str] = mapped_column(String(42))
    price: Mapped[int] = mapped_column(BigInteger)
    royalty: Mapped[int] = mapped_column(BigInteger)
    royalty_receiver: Mapped[str] = mapped_column(String(42))
    fee: Mapped[int] = mapped_column(BigInteger)
    proceeds: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GalleryAuction(Base):
    """An English auction created through the platform (times and bids are read from chain)."""

    __tablename__ = "gallery_auctions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    chain_auction_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    token_id: Mapped[int] = mapped_column(BigInteger, index=True)
    seller_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seller: Mapped[str] = mapped_column(String(42))
    reserve: Mapped[int] = mapped_column(BigInteger)
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), index=True, default=AuctionState.LIVE)
    settle_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GalleryBid(Base):
    """A bid sent through the platform and its transaction."""

    __tablename__ = "gallery_bids"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("gallery_auctions.id"), index=True)
    bidder_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    bidder: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GalleryReport(Base):
    """A user's report about a token (text kept off chain, length-capped)."""

    __tablename__ = "gallery_reports"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_id: Mapped[int] = mapped_column(BigInteger, index=True)
    reporter_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GalleryModeration(Base):
    """A moderator's freeze or unfreeze (the note stays here; the chain sees a reason code)."""

    __tablename__ = "gallery_moderation"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str | None] = mapped_column(String(16), default=None)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    admin_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    tx_hash: Mapped[str | None] = mapped_column(String(66), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GalleryAppeal(Base):
    """An owner's appeal against a freeze (text off chain; `Appealed` event on chain)."""

    __tablename__ = "gallery_appeals"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_id: Mapped[int] = mapped_column(BigInteger, index=True)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    owner: Mapped[str] = mapped_column(String(42))
    text: Mapped[str] = mapped_column(Text)
    tx_hash: Mapped[str | None] = mapped_column(String(66), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GalleryExhibition(Base):
    """A curated exhibition of published tokens."""

    __tablename__ = "gallery_exhibitions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    title_ko: Mapped[str] = mapped_column(String(120))
    title_en: Mapped[str | None] = mapped_column(String(120), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    studio_id: Mapped[int | None] = mapped_column(ForeignKey("studios.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GalleryExhibitionItem(Base):
    """One token shown in an exhibition, in order."""

    __tablename__ = "gallery_exhibition_items"
    __table_args__ = (UniqueConstraint("exhibition_id", "token_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    exhibition_id: Mapped[int] = mapped_column(ForeignKey("gallery_exhibitions.id"), index=True)
    token_id: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(Integer)
