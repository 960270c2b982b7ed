"""Read-only sessions that do not take SQLite's write lock (payments, grants, gallery reads).

The platform engine opens every SQLite transaction with BEGIN IMMEDIATE (the write lock),
so that read-then-write units of work serialise. Pure reads do not need it: in WAL mode a
deferred transaction reads one consistent snapshot and neither waits for nor blocks the
writer. Under load the payment path's reads queued behind every commit (SQLite's busy
handler sleeps in steps of up to 100 ms), so they use this engine instead. With several web
worker processes the write lock is also taken across processes: the public gallery reads
then waited for each other's BEGIN IMMEDIATE in the busy handler (2 workers on 48 NFTs: 319
requests/s with the write lock, 625 with these sessions). PostgreSQL sessions are the
platform's own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from busanchain.platform.context import PlatformContext

_FACTORIES: dict[int, tuple[Engine, sessionmaker[Session]]] = {}
_GUARD = threading.Lock()
MAX_ENGINES = 8


def _pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by the listener below
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=1")  # this engine never writes
    cursor.close()


def _deferred_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _factory(context: PlatformContext) -> sessionmaker[Session]:
    engine = context.engine
    if engine.dialect.name != "sqlite":
        return context.sessions
    with _GUARD:
        known = _FACTORIES.get(id(engine))
        if known is None or known[0] is not engine:
            reader = create_engine(
                engine.url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            event.listen(reader, "connect", _pragmas)
            event.listen(reader, "begin", _deferred_begin)
            known = (engine, sessionmaker(bind=reader, expire_on_commit=False))
            if len(_FACTORIES) >= MAX_ENGINES:  # old platform contexts (tests): let them go
                for _, old in _FACTORIES.values():
                    bind = old.kw.get("bind")
                    if isinstance(bind, Engine):
                        bind.dispose()
                _FACTORIES.clear()
            _FACTORIES[id(engine)] = known
        return known[1]


@contextmanager
def read_session(context: PlatformContext) -> Iterator[Session]:
    """A session for reads only (one snapshot; nothing it does is committed).

    Closed without an explicit rollback: the pool ends the transaction when the connection
    returns, and the rows read stay usable after the block (a rollback would expire them,
    and reading an expired attribute of a detached row fails)."""
    session = _factory(context)()
    try:
        yield session
    finally:
        session.close()
