"""Queries over idempotency records. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from busanchain.idempotency.tables import IdempotencyRecord


class IdempotencyRepository:
    """Reads and writes idempotency records in the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, scope: str, key: str) -> IdempotencyRecord | None:
        """The record for a key within a scope."""
        return self.session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        ).first()

    def add(self, record: IdempotencyRecord) -> None:
        """Insert a record (raises IntegrityError on a concurrent duplicate)."""
        self.session.add(record)
        self.session.flush()
