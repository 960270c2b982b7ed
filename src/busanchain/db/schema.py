"""The schema: which modules hold tables, and bringing a database up to date.

The tables of each feature live in that feature's `tables.py`; TABLE_MODULES lists them so
that Alembic and the drift test see the whole metadata.
"""

from __future__ import annotations

import importlib

from sqlalchemy import Engine

TABLE_MODULES = (
    "busanchain.outbox.tables",
    "busanchain.idempotency.tables",
    "busanchain.deployment.tables",
    "busanchain.accounts.tables",
    "busanchain.keys.tables",
    "busanchain.explorer.tables",
    "busanchain.merchants.tables",
    "busanchain.programs.tables",
    "busanchain.payments.tables",
    "busanchain.reports.tables",
    "busanchain.studio.tables",
    "busanchain.gallery.tables",
)


def load_all_tables() -> None:
    """Import every feature's tables so that Base.metadata is complete."""
    for name in TABLE_MODULES:
        importlib.import_module(name)


def create_schema(engine: Engine) -> None:
    """Bring the database to the latest schema through the Alembic migrations."""
    from busanchain.db.migrate import upgrade

    upgrade(engine)
