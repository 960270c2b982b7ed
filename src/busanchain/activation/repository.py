"""Activation queries. Never commits: the calling service owns the transaction.

Failed attempts are kept in the accounts' `login_failures` table under subjects of their
own (`activation:ip:…`, `activation:resident:…`), so they survive restarts and are shared by
every worker without a table of their own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from busanchain.accounts.tables import LoginFailure, UserRecord
from busanchain.programs.importer import UNUSABLE_PASSWORD
from busanchain.programs.tables import ResidentRecord

SUBJECT_PREFIX = "activation:"


def resident_by_hash(session: Session, resident_hash: str) -> ResidentRecord | None:
    """The resident with this resident-number hash, if any."""
    query = select(ResidentRecord).where(ResidentRecord.resident_hash == resident_hash)
    return session.scalar(query)


def user_by_id(session: Session, user_id: int) -> UserRecord | None:
    """A user by id."""
    return session.get(UserRecord, user_id)


def is_unactivated(record: UserRecord) -> bool:
    """True for an account made by the importer that nobody has taken over yet."""
    return record.password_hash == UNUSABLE_PASSWORD


def username_taken(session: Session, username: str, user_id: int) -> bool:
    """True if a user other than `user_id` has this username."""
    query = select(func.count()).where(UserRecord.username == username, UserRecord.id != user_id)
    return session.scalar(query) != 0


def claim_unactivated(session: Session, user_id: int, username: str, password_hash: str) -> bool:
    """Rename the account and set its password, only if it is still unactivated.

    One conditional UPDATE: of two concurrent activations exactly one changes the row
    (PostgreSQL re-checks the condition after the first commits; SQLite runs them one by one).
    """
    result = session.execute(
        update(UserRecord)
        .where(UserRecord.id == user_id, UserRecord.password_hash == UNUSABLE_PASSWORD)
        .values(username=username, password_hash=password_hash)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def prune_failures(session: Session, before: datetime) -> None:
    """Drop activation failures older than the window (login failures are left alone)."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.subject.startswith(SUBJECT_PREFIX), LoginFailure.failed_at <= before
        )
    )


def username_of(session: Session, user_id: int) -> str | None:
    """A user's username as committed now (not from the session's identity map)."""
    return session.scalar(select(UserRecord.username).where(UserRecord.id == user_id))
