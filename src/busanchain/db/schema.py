"""Creating and upgrading the schema.

The tables of each feature live in that feature's `tables.py`; TABLE_MODULES lists them so
that migrations and tests see the whole metadata.
"""

from __future__ import annotations

import importlib

from sqlalchemy import Engine

from busanchain.db.base import Base

TABLE_MODULES = (
    "busanchain.outbox.tables",
    "busanchain.idempotency.tables",
    "busanchain.deployment.tables",
    "busanchain.accounts.tables",
    "busanchain.keys.tables",
    "busanchain.explorer.tables",
)


def load_all_tables() -> None:
    """Import every feature's tables so that Base.metadata is complete."""
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not name.startswith(str(exc.name)):
                raise


def create_schema(engine: Engine) -> None:
    """Bring the database to the latest schema."""
    load_all_tables()
    Base.metadata.create_all(engine)
