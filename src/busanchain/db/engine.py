"""Engine factory with the durability settings the platform relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from busanchain.domain.errors import ConfigurationError


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN so that read-then-write transactions serialise
    # instead of failing with "database is locked" on upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, synchronous=FULL and immediate transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigurationError(f"Unsupported database URL scheme: {parsed.get_backend_name()}")


def check_durability(engine: Engine) -> dict[str, str]:
    """Verify at startup that SQLite really runs in WAL mode with synchronous=FULL.

    Returns the observed settings; raises ConfigurationError when they are not in force.
    """
    if engine.dialect.name != "sqlite":
        return {"backend": engine.dialect.name}
    with engine.connect() as conn:
        journal = str(conn.execute(text("PRAGMA journal_mode")).scalar()).lower()
        sync = int(conn.execute(text("PRAGMA synchronous")).scalar() or 0)
    if journal != "wal" or sync != 2:
        raise ConfigurationError(
            f"SQLite must run with journal_mode=WAL and synchronous=FULL (found {journal}, {sync})."
        )
    return {"backend": "sqlite", "journal_mode": journal, "synchronous": "FULL"}


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory; services open one session per unit of work and commit it."""
    return sessionmaker(bind=engine, expire_on_commit=False)
