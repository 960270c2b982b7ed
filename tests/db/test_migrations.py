"""Migrations: they build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from busanchain.db.base import Base
from busanchain.db.engine import check_durability, make_engine
from busanchain.db.migrate import current_revision, head_revision, upgrade
from busanchain.db.schema import load_all_tables


def test_migrations_match_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        assert upgrade(engine) == head_revision(engine)
        load_all_tables()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert upgrade(engine) == head_revision(engine)  # running again changes nothing
    finally:
        engine.dispose()


def test_sqlite_runs_with_wal_and_full_sync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        assert check_durability(engine)["journal_mode"] == "wal"
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2
    finally:
        engine.dispose()
