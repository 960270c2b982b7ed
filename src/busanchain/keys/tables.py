"""Tables holding sealed (envelope-encrypted) secrets.

Every row carries its own wrapped data key, the id of the key-encryption key (KEK) that
wrapped it, and the AES-GCM nonce and ciphertext. No plaintext secret is ever stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow
from busanchain.keys.envelope import associated_data


class SealedColumns:
    """The columns of one envelope: who wrapped it, the wrapped data key and the ciphertext."""

    kek_id: Mapped[str] = mapped_column(String(80), index=True)
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def sealed_aad(self) -> bytes:
        """The associated data that binds this ciphertext to its row (swaps fail to open).

        Every table with sealed columns defines it; the mixin alone has no row identity.
        """
        raise TypeError(f"{type(self).__name__} does not say how its ciphertext is bound")


class CustodialKey(SealedColumns, Base):
    """A user's platform-held secp256k1 key; the private key is sealed, the address is public."""

    __tablename__ = "custodial_keys"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, index=True
    )
    address: Mapped[str] = mapped_column(String(42), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def sealed_aad(self) -> bytes:
        """Bound to the owner and the address."""
        return associated_data("custodial-key", self.version, self.user_id, self.address)


class SealedField(SealedColumns, Base):
    """One encrypted per-user value: a personal data field or a TOTP secret."""

    __tablename__ = "sealed_fields"
    __table_args__ = (UniqueConstraint("user_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(40))

    def sealed_aad(self) -> bytes:
        """Bound to the owner and the field name."""
        return associated_data("field", self.version, self.user_id, self.field)
