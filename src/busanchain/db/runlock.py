"""One platform runtime per database.

The runtime's loops (relayer, reconciler, indexer, settlers) assume they are the only ones
working on their database. A second `busanchain up` on the same database would break that
assumption quietly, so the runtime takes this lock before anything else and a second one
stops with a clear error. Web workers in other processes ask `runtime_running` whether a
runtime (and so a relayer) is working on their database, for instance before they wait for a
payment's receipt.

- SQLite: an exclusive `flock` on `<database file>.runtime.lock`, which names the holder's pid.
- PostgreSQL: a session advisory lock keyed by the schema (`current_schema()`), held on a
  connection of its own for the runtime's life.

Both vanish with the process, so a runtime killed with `kill -9` leaves nothing to clean up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from busanchain.domain.errors import ConfigurationError

LOCK_NAME = "busanchain-runtime:"
PG_TRY_LOCK = text("SELECT pg_try_advisory_lock(hashtext(:name || current_schema()))")
PG_UNLOCK = text("SELECT pg_advisory_unlock(hashtext(:name || current_schema()))")
PG_TRY_SHARED = text("SELECT pg_try_advisory_lock_shared(hashtext(:name || current_schema()))")
PG_UNLOCK_SHARED = text("SELECT pg_advisory_unlock_shared(hashtext(:name || current_schema()))")


class RuntimeAlreadyRunning(ConfigurationError):
    """Another runtime holds the database."""

    code = "runtime_already_running"


def _taken(holder: str) -> RuntimeAlreadyRunning:
    return RuntimeAlreadyRunning(
        f"Another busanchain runtime is already using this database ({holder}). "
        "Stop it first (`busanchain down`), or give this one its own database.",
        f"이 데이터베이스를 이미 다른 busanchain 런타임이 쓰고 있습니다({holder}). "
        "먼저 그것을 멈추거나(`busanchain down`) 이 런타임에 별도의 데이터베이스를 주세요.",
    )


class RuntimeLock:
    """The database's runtime lock; `acquire` raises RuntimeAlreadyRunning if it is held."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._file: IO[str] | None = None
        self._connection: Connection | None = None
        self.held = False  # acquired and not released (a database in memory needs no lock)

    def path(self) -> Path | None:
        """The lock file of a SQLite database file; None for other databases."""
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(f"{url.database}.runtime.lock")

    def acquire(self) -> None:
        """Take the lock, or raise RuntimeAlreadyRunning. A database in memory needs none."""
        if self.held:
            return
        path = self.path()
        if self.engine.dialect.name == "postgresql":
            self._acquire_pg()
        elif path is not None:
            self._acquire_file(path)
        self.held = True

    def _acquire_file(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise _taken(f"pid {holder}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def _acquire_pg(self) -> None:
        # Not from the pool: closing this connection must end the session, and the lock.
        connection = create_engine(self.engine.url, poolclass=NullPool).connect()
        try:
            got = bool(connection.execute(PG_TRY_LOCK, {"name": LOCK_NAME}).scalar())
            connection.commit()  # the lock is the session's; do not sit idle in a transaction
        except BaseException:
            connection.close()
            raise
        if not got:
            connection.close()
            raise _taken("PostgreSQL advisory lock")
        self._connection = connection

    def release(self) -> None:
        """Give the lock back (safe to call when it is not held)."""
        self.held = False
        if self._file is not None:
            self._file.truncate(0)
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            try:
                self._connection.execute(PG_UNLOCK, {"name": LOCK_NAME})
                self._connection.commit()
            finally:
                self._connection.close()  # ends the session, and the lock with it
                self._connection.engine.dispose()
                self._connection = None


def runtime_running(engine: Engine) -> bool:
    """Whether a runtime holds the database's lock: a probe that takes and gives back a
    shared lock on its own file handle or connection, so the holder may be this process or
    another. False for a database in memory."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            free = bool(connection.execute(PG_TRY_SHARED, {"name": LOCK_NAME}).scalar())
            if free:
                connection.execute(PG_UNLOCK_SHARED, {"name": LOCK_NAME})
            connection.commit()
        return not free
    path = RuntimeLock(engine).path()
    if path is None or not path.exists():
        return False
    with path.open("r", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
