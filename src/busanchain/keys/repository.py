"""Queries on sealed rows. Never commits: the calling service owns the transaction."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from busanchain.db.base import Base
from busanchain.db.schema import load_all_tables
from busanchain.keys.tables import CustodialKey, SealedColumns, SealedField


def sealed_models() -> list[type[SealedColumns]]:
    """Every mapped table with sealed columns (custodial keys, fields, and feature tables
    such as residents), so that a KEK rotation re-encrypts all of them."""
    load_all_tables()
    models = [m.class_ for m in Base.registry.mappers if issubclass(m.class_, SealedColumns)]
    return sorted(models, key=lambda model: model.__name__)


def custodial_key_for_user(session: Session, user_id: int) -> CustodialKey | None:
    """The user's custodial key row, if any."""
    return session.scalar(select(CustodialKey).where(CustodialKey.user_id == user_id))


def custodial_key_by_address(session: Session, address: str) -> CustodialKey | None:
    """The custodial key row of a checksummed address, if any."""
    return session.scalar(select(CustodialKey).where(CustodialKey.address == address))


def sealed_field(session: Session, user_id: int, field: str) -> SealedField | None:
    """One sealed per-user field, if set."""
    return session.scalar(
        select(SealedField).where(SealedField.user_id == user_id, SealedField.field == field)
    )


def delete_sealed_field(session: Session, user_id: int, field: str) -> None:
    """Remove a sealed field (no error if absent)."""
    session.execute(
        delete(SealedField).where(SealedField.user_id == user_id, SealedField.field == field)
    )


def rows_not_under_kek(
    session: Session, model: type[SealedColumns], kek_id: str, limit: int
) -> list[SealedColumns]:
    """Up to `limit` rows of `model` still wrapped by another KEK, locked for update."""
    query = (
        select(model)
        .where(model.kek_id != kek_id)
        .order_by(model.id)  # type: ignore[attr-defined]
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))
