"""Accounts queries. Never commits: the calling service owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from busanchain.accounts.tables import (
    LinkedWallet,
    LoginFailure,
    SessionRecord,
    SiweNonce,
    UserRecord,
    UserRoleRecord,
)


def user_by_id(session: Session, user_id: int) -> UserRecord | None:
    """A user by id."""
    return session.get(UserRecord, user_id)


def user_by_login(session: Session, login: str) -> UserRecord | None:
    """A user by (lower-case) username, or by email when the login contains '@'."""
    column = UserRecord.email if "@" in login else UserRecord.username
    return session.scalar(select(UserRecord).where(column == login))


def username_or_email_taken(session: Session, username: str, email: str | None) -> bool:
    """True if another user has this username or email."""
    clauses = [UserRecord.username == username]
    if email:
        clauses.append(UserRecord.email == email)
    return session.scalar(select(func.count()).where(or_(*clauses))) != 0


def roles_of(session: Session, user_id: int) -> set[str]:
    """The role names a user holds."""
    query = select(UserRoleRecord.role).where(UserRoleRecord.user_id == user_id)
    return set(session.scalars(query))


def add_roles(session: Session, user_id: int, roles: Iterable[str], granted_by: int | None) -> None:
    """Grant roles the user does not hold yet."""
    held = roles_of(session, user_id)
    for role in sorted(set(roles) - held):
        session.add(UserRoleRecord(user_id=user_id, role=role, granted_by=granted_by))
    session.flush()


def remove_roles(session: Session, user_id: int, roles: Iterable[str]) -> None:
    """Revoke roles."""
    session.execute(
        delete(UserRoleRecord).where(
            UserRoleRecord.user_id == user_id, UserRoleRecord.role.in_(list(roles))
        )
    )


def linked_wallets(session: Session, user_id: int) -> list[str]:
    """Addresses of the user's linked external wallets, oldest first."""
    query = select(LinkedWallet.address).where(LinkedWallet.user_id == user_id)
    return list(session.scalars(query.order_by(LinkedWallet.id)))


def linked_wallet(session: Session, address: str) -> LinkedWallet | None:
    """The link of an external address, whoever owns it."""
    return session.scalar(select(LinkedWallet).where(LinkedWallet.address == address))


# -- sessions -------------------------------------------------------------------------------


def session_by_hash(session: Session, id_hash: str) -> SessionRecord | None:
    """A web session by the hash of its id."""
    return session.get(SessionRecord, id_hash)


def delete_session(session: Session, id_hash: str) -> None:
    """Delete one web session (no error if absent)."""
    session.execute(delete(SessionRecord).where(SessionRecord.id_hash == id_hash))


def delete_user_sessions(session: Session, user_id: int) -> None:
    """Delete every web session of a user (forces a new login)."""
    session.execute(delete(SessionRecord).where(SessionRecord.user_id == user_id))


def delete_expired_sessions(session: Session, user_id: int, now: datetime) -> None:
    """Housekeeping: drop a user's expired sessions."""
    session.execute(
        delete(SessionRecord).where(
            SessionRecord.user_id == user_id, SessionRecord.expires_at <= now
        )
    )


def touch_session(session: Session, id_hash: str, now: datetime) -> None:
    """Record activity on a session."""
    session.execute(
        update(SessionRecord)
        .where(SessionRecord.id_hash == id_hash)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


# -- throttling -----------------------------------------------------------------------------


def count_failures(session: Session, subject: str, since: datetime) -> int:
    """Failed logins for a subject since a moment."""
    query = select(func.count()).where(
        LoginFailure.subject == subject, LoginFailure.failed_at > since
    )
    return int(session.scalar(query) or 0)


def oldest_failure(session: Session, subject: str, since: datetime) -> datetime | None:
    """The oldest failure still inside the window (for Retry-After)."""
    query = select(func.min(LoginFailure.failed_at)).where(
        LoginFailure.subject == subject, LoginFailure.failed_at > since
    )
    return session.scalar(query)


def add_failures(session: Session, subjects: Iterable[str], now: datetime) -> None:
    """Record one failed attempt for each subject."""
    for subject in subjects:
        session.add(LoginFailure(subject=subject, failed_at=now))
    session.flush()


def clear_failures(session: Session, subject: str) -> None:
    """Forget a subject's failures (after a successful login)."""
    session.execute(delete(LoginFailure).where(LoginFailure.subject == subject))


def prune_failures(session: Session, before: datetime) -> None:
    """Drop failures older than the window."""
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= before))


# -- TOTP and SIWE --------------------------------------------------------------------------


def claim_totp_step(session: Session, user_id: int, step: int) -> bool:
    """Atomically record `step` as used; False if it (or a later one) was used already."""
    result = session.execute(
        update(UserRecord)
        .where(
            UserRecord.id == user_id,
            or_(UserRecord.totp_last_step.is_(None), UserRecord.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def siwe_nonce(session: Session, nonce: str) -> SiweNonce | None:
    """A SIWE nonce record."""
    return session.get(SiweNonce, nonce)


def claim_siwe_nonce(session: Session, nonce: str, user_id: int, now: datetime) -> bool:
    """Atomically mark an unused, unexpired nonce of this user as used."""
    result = session.execute(
        update(SiweNonce)
        .where(
            SiweNonce.nonce == nonce,
            SiweNonce.user_id == user_id,
            SiweNonce.used_at.is_(None),
            SiweNonce.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
