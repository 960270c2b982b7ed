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
from busanchain.db.engine import make_engine, make_session_factory


@dataclass
class PlatformContext:
    """What every service needs; built once per process by an entry point."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    services: dict[str, Any] = field(default_factory=dict)
    _w3: Web3 | None = None

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

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
