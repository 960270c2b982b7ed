"""Accounts tables: users, their roles, web sessions, throttling, SIWE nonces, linked wallets.

Personal data and TOTP secrets are not here: they are sealed in `keys.tables.SealedField`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from busanchain.db.base import Base, utcnow


class UserRecord(Base):
    """A platform user; logs in by username or email."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True, default=None)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last accepted TOTP time step: a code is accepted only for a later step (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserRoleRecord(Base):
    """One role held by a user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    granted_by: Mapped[int | None] = mapped_column(Integer, default=None)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionRecord(Base):
    """A server-side web session; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "auth_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # False while the password was right but the TOTP code is still to come.
    authenticated: Mapped[bool] = mapped_column(Boolean, default=True)
    # True when this session proved a TOTP code (needed for official and admin powers).
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """One failed login, counted per account and per client address over a time window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(120), index=True)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SiweNonce(Base):
    """A Sign-In with Ethereum nonce: issued to one user for one address, used once."""

    __tablename__ = "siwe_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(42))
    issued_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class LinkedWallet(Base):
    """An external wallet whose control the user proved with SIWE; unique across users."""

    __tablename__ = "linked_wallets"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
