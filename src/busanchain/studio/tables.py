"""Studio tables: studios, photographers, shooting sessions, photos and stored content.

No personal data: a studio's business number is kept only as the salted hash the merchants
feature uses (plus its last three digits), a session is named by a code, not a customer, and
a photo's claim code is never stored (only the claim key's address and the signed voucher).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow
from busanchain.keys.envelope import associated_data
from busanchain.keys.tables import SealedColumns


class StudioStatus:
    """Life cycle of a studio: pending -> approving -> active <-> suspended; or rejected."""

    PENDING = "pending"  # waiting for a platform admin
    APPROVING = "approving"  # grantRole(MINTER_ROLE) is in the outbox
    ACTIVE = "active"  # the signing address holds MINTER_ROLE on PhotoNFT
    SUSPENDING = "suspending"  # revokeRole is in the outbox
    SUSPENDED = "suspended"
    REJECTED = "rejected"


class PhotoState:
    """Life cycle of a photo: uploaded -> issued -> claiming -> claimed.

    A lost claim code is replaced by issued -> reissuing -> issued (a new voucher).
    """

    UPLOADED = "uploaded"
    ISSUED = "issued"  # a signed voucher and a claim code exist
    REISSUING = "reissuing"  # cancelVoucher of the old voucher is in the outbox
    CLAIMING = "claiming"  # the claim transaction is in the outbox
    CLAIMED = "claimed"  # minted; the owner is on chain


class ContentKind:
    """What a stored blob is."""

    ORIGINAL = "original"
    THUMB_320 = "thumb_320"
    THUMB_1280 = "thumb_1280"
    METADATA = "metadata"
    STUB_METADATA = "stub_metadata"
    PLACEHOLDER = "placeholder"


class Visibility:
    """Who may fetch a blob through the gateway."""

    PUBLIC = "public"
    PRIVATE = "private"  # the photo's owner only (the studio before the claim)


class StudioRecord(Base):
    """A photo studio; its signing address is its owner's custodial key address."""

    __tablename__ = "studios"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name_ko: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100), default=None)
    business_number_hash: Mapped[str] = mapped_column(String(66), unique=True)
    business_number_tail: Mapped[str] = mapped_column(String(3))
    signing_address: Mapped[str] = mapped_column(String(42), unique=True)
    default_royalty_bps: Mapped[int] = mapped_column(Integer, default=500)
    status: Mapped[str] = mapped_column(String(16), index=True, default=StudioStatus.PENDING)
    role_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    next_voucher_id: Mapped[int] = mapped_column(BigInteger, default=1)
    decided_by: Mapped[int | None] = mapped_column(Integer, default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_note: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PhotographerRecord(Base):
    """A photographer of a studio: a display name and the royalty share of their photos."""

    __tablename__ = "studio_photographers"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    studio_id: Mapped[int] = mapped_column(ForeignKey("studios.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    royalty_bps: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShootingSessionRecord(Base):
    """A shooting session, named by a code (never by the customer)."""

    __tablename__ = "studio_sessions"
    __table_args__ = (UniqueConstraint("studio_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    studio_id: Mapped[int] = mapped_column(ForeignKey("studios.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    photographer_id: Mapped[int | None] = mapped_column(
        ForeignKey("studio_photographers.id"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PhotoRecord(Base):
    """An uploaded photo, its renditions' CIDs, its voucher and, once claimed, its token."""

    __tablename__ = "studio_photos"
    __table_args__ = (
        UniqueConstraint("studio_id", "voucher_id"),
        # the gallery's pages walk published photos in token order, 24 at a time: without it
        # SQLite sorted all 10,000 claimed photos for every page (3 ms; 0.4 ms with it)
        Index("ix_studio_photos_gallery", "state", "published", "token_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    studio_id: Mapped[int] = mapped_column(ForeignKey("studios.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("studio_sessions.id"), index=True)
    photographer_id: Mapped[int | None] = mapped_column(
        ForeignKey("studio_photographers.id"), index=True, default=None
    )
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # sha256 of the cleaned original before its C2PA manifest (signing is not deterministic,
    # so exact duplicates are found by this one); None for photos stored before signing
    clean_sha256: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    phash: Mapped[str] = mapped_column(String(16))
    cid: Mapped[str] = mapped_column(String(100))
    media_type: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    thumb_320_cid: Mapped[str | None] = mapped_column(String(100), default=None)
    thumb_1280_cid: Mapped[str | None] = mapped_column(String(100), default=None)
    metadata_cid: Mapped[str] = mapped_column(String(100))
    stub_cid: Mapped[str] = mapped_column(String(100))
    captured_at: Mapped[datetime | None] = mapped_column(default=None)
    near_duplicate_of: Mapped[int | None] = mapped_column(Integer, default=None)
    duplicate_warning: Mapped[str | None] = mapped_column(String(300), default=None)
    state: Mapped[str] = mapped_column(String(16), index=True, default=PhotoState.UPLOADED)
    voucher_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    claim_key_address: Mapped[str | None] = mapped_column(String(42), unique=True, default=None)
    royalty_receiver: Mapped[str | None] = mapped_column(String(42), default=None)
    royalty_bps: Mapped[int | None] = mapped_column(Integer, default=None)
    voucher_expiry: Mapped[int | None] = mapped_column(BigInteger, default=None)
    voucher_signature: Mapped[str | None] = mapped_column(Text, default=None)
    claim_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    claim_error: Mapped[str | None] = mapped_column(String(300), default=None)
    token_id: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    owner_address: Mapped[str | None] = mapped_column(String(42), index=True, default=None)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    publish_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    publish_target: Mapped[bool | None] = mapped_column(Boolean, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)


class ContentRecord(Base):
    """A blob in the content store, addressed by its kubo-compatible CIDv1."""

    __tablename__ = "studio_content"

    cid: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(BigInteger)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("studio_photos.id"), index=True)
    visibility: Mapped[str] = mapped_column(String(8), default=Visibility.PRIVATE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CredentialSource:
    """Where a studio's content credentials came from."""

    DEV = "dev"  # issued by the platform on approval, chaining to a test CA
    UPLOADED = "uploaded"  # the studio's own certificate from a real CA


class StudioCredentialRecord(SealedColumns, Base):
    """A studio's C2PA signing certificate chain (public) and its P-256 key (sealed).

    The sealed columns hold the PKCS#8 PEM private key, envelope-encrypted like custodial
    keys and bound to the studio and the leaf certificate's fingerprint.
    """

    __tablename__ = "studio_credentials"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    studio_id: Mapped[int] = mapped_column(ForeignKey("studios.id"), unique=True)
    certificate_chain_pem: Mapped[str] = mapped_column(Text)
    leaf_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(8))
    not_after: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def sealed_aad(self) -> bytes:
        """Bound to the studio and the leaf certificate, so a swapped key fails to open."""
        return associated_data("studio-c2pa-key", self.version, self.studio_id, self.leaf_sha256)
