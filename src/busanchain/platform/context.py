"""The shared context handed to services: settings, database and chain access."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from busanchain.chain.rpc import make_web3
from busanchain.config import Settings
from busanchain.db.engine import make_engine, make_read_session_factory, make_session_factory


@dataclass
class PlatformContext:
    """What every service needs; built once per process by an entry point."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    services: dict[str, Any] = field(default_factory=dict)
    _w3: Web3 | None = None
    _reads: sessionmaker[Session] | None = None

    @classmethod
    def create(cls, settings: Settings) -> PlatformContext:
        """Build the context for the given settings (no network or chain access yet)."""
        engine = make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine))

    @property
    def w3(self) -> Web3:
        """A Web3 client for the configured chain (created on first use)."""
        if self._w3 is None:
            self._w3 = make_web3(self.settings.node_rpc_url)
        return self._w3

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_only(self) -> Iterator[Session]:
        """A session for reads only: never committed, its transaction ends when it closes.

        On SQLite it does not take the write lock (see `db/engine.py`), so public pages read
        beside each other and beside the writer. Changing anything in it is a programming
        error: the change is discarded and RuntimeError raised."""
        if self._reads is None:
            self._reads = make_read_session_factory(self.engine)
        session = self._reads()
        try:
            yield session
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a read-only unit of work changed rows; nothing was saved")
        finally:
            session.close()

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
