"""Allowance programs, eligible residents, imports, and disbursement rounds with their grants.

Residents' personal data never goes on chain. The resident registration number is kept only
as a salted HMAC (`resident_hash`); name and phone are envelope-encrypted in `sealed`
(one JSON document per resident, sealed with the platform KEK).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow
from busanchain.keys.envelope import associated_data
from busanchain.keys.tables import SealedColumns


class ProgramRecord(Base):
    """An allowance program; `id` is also its ERC-1155 id in PolicyVoucher."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))  # youth / family / childcare / other
    name_ko: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    budget: Mapped[int] = mapped_column(BigInteger)
    per_person_amount: Mapped[int] = mapped_column(BigInteger)
    per_payment_cap: Mapped[int] = mapped_column(BigInteger, default=0)
    daily_cap: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    allowed_categories: Mapped[list[int]] = mapped_column(JSON, default=list)
    blocked_categories: Mapped[list[int]] = mapped_column(JSON, default=list)
    allowed_districts: Mapped[list[int]] = mapped_column(JSON, default=list)
    min_age: Mapped[int | None] = mapped_column(Integer, default=None)  # eligibility, off chain
    max_age: Mapped[int | None] = mapped_column(Integer, default=None)
    state: Mapped[str] = mapped_column(String(16), default="draft")  # draft/creating/live/failed
    entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResidentRecord(SealedColumns, Base):
    """An eligible resident; the sealed columns hold {"name", "phone"} as JSON."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    resident_hash: Mapped[str] = mapped_column(String(64), unique=True)
    birth_date: Mapped[date] = mapped_column(Date)
    district: Mapped[int] = mapped_column(Integer)  # no index: nothing looks residents up by it
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)
    wallet_address: Mapped[str | None] = mapped_column(String(42), default=None)  # no index
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def sealed_aad(self) -> bytes:
        """Bound to the resident hash, so a swapped ciphertext fails to open."""
        return associated_data("resident", self.version, self.resident_hash)


class ImportRecord(Base):
    """One uploaded resident file; accepted only if every row is valid (errors kept here)."""

    __tablename__ = "resident_imports"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16))  # accepted / rejected
    errors: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnrollmentRecord(Base):
    """A resident eligible for a program, and the amount due to them."""

    __tablename__ = "enrollments"
    # The unique (program_id, resident_id) index also serves lookups by program.
    __table_args__ = (UniqueConstraint("program_id", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("resident_imports.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    round_pk: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)


class RoundRecord(Base):
    """A disbursement round: a Merkle root (or a direct grant batch) and its progress."""

    __tablename__ = "disbursement_rounds"
    __table_args__ = (UniqueConstraint("program_id", "round_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    round_id: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(8))  # merkle / direct
    root: Mapped[str | None] = mapped_column(String(66), default=None)
    tree: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # MerkleTree.to_bytes
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)  # progress: recipients handled
    state: Mapped[str] = mapped_column(String(16), default="preparing")
    entry_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(String(300), default=None)
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class GrantRecord(Base):
    """One recipient's grant in a round; `leaf_index` locates its Merkle proof in the tree."""

    __tablename__ = "grants"
    # The unique (round_pk, address) index also serves lookups by round.
    __table_args__ = (UniqueConstraint("round_pk", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    round_pk: Mapped[int] = mapped_column(ForeignKey("disbursement_rounds.id"))
    program_id: Mapped[int] = mapped_column(Integer, index=True)
    address: Mapped[str] = mapped_column(String(42), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    leaf_index: Mapped[int] = mapped_column(Integer)
    resident_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open/claiming/claimed/revoked
    claim_entry_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
