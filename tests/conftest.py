"""Shared fixtures: a real anvil node, a real database (SQLite or PostgreSQL), a context.

Set BUSANCHAIN_TEST_DATABASE_URL to a PostgreSQL URL to run the suite against PostgreSQL;
each test then gets its own schema. Otherwise each test gets its own SQLite file.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from busanchain.chain.node import AnvilConfig, AnvilSupervisor, find_anvil_binary
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from busanchain.db.schema import create_schema
from busanchain.platform.context import PlatformContext
from tests.personal_data_scan import scan_chain

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_URL_ENV = "BUSANCHAIN_TEST_DATABASE_URL"


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    return find_anvil_binary(REPO_ROOT / "node_modules")


def start_anvil(tmp: Path, binary: Path, block_time: float | None = None) -> AnvilSupervisor:
    """Start a fresh anvil on a free port, state under `tmp`."""
    config = AnvilConfig(
        binary=binary,
        state_dir=tmp,
        port=free_port(),
        block_time=block_time,
        snapshot_interval_s=3600,
    )
    node = AnvilSupervisor(config)
    node.start(watch=False)
    return node


@pytest.fixture(scope="session")
def anvil(
    tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path
) -> Iterator[AnvilSupervisor]:
    """One automining anvil node shared by a test session (or xdist worker).

    At the end of the session every transaction and log on it is scanned for personal data
    (names, phone numbers, resident numbers): a hit fails the session.
    """
    node = start_anvil(tmp_path_factory.mktemp("anvil"), anvil_binary)
    try:
        yield node
        scanned, hits = scan_chain(node.config.rpc_url)
        assert not hits, f"personal data on chain ({scanned} txs scanned): {hits[:10]}"
    finally:
        node.stop(snapshot=False)


def _pg_schema_url(base_url: str) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(make_url(base_url).set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def module_context(tmp: Path, rpc_url: str, kek: str = "a" * 64) -> Iterator[PlatformContext]:
    """A platform context with its own database (SQLite, or a PostgreSQL schema) and schema,
    pointed at `rpc_url`; for module-scoped fixtures. The database is dropped afterwards."""
    pg = os.environ.get(PG_URL_ENV)
    urls = _pg_schema_url(pg) if pg else iter([f"sqlite:///{tmp / 'module.sqlite3'}"])
    settings = Settings.from_env(environ={}, root=REPO_ROOT).with_overrides(
        data_dir=tmp / "var",
        database_url=next(urls),
        rpc_url=rpc_url,
        operator_key=ANVIL_DEFAULT_OPERATOR_KEY,
        kek_env=kek,
        session_secret="test-session-secret",
    )
    context = PlatformContext.create(settings)
    try:
        create_schema(context.engine)
        yield context
    finally:
        context.close()
        next(urls, None)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test."""
    pg = os.environ.get(PG_URL_ENV)
    if pg:
        yield from _pg_schema_url(pg)
    else:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, anvil: AnvilSupervisor) -> Settings:
    """Settings for a platform that uses the session's anvil node as an external chain."""
    base = Settings.from_env(environ={}, root=REPO_ROOT)
    return base.with_overrides(
        data_dir=tmp_path / "var",
        database_url=database_url,
        rpc_url=anvil.config.rpc_url,
        operator_key=ANVIL_DEFAULT_OPERATOR_KEY,
        kek_env="a" * 64,
        session_secret="test-session-secret",
    )


@pytest.fixture
def context(settings: Settings) -> Iterator[PlatformContext]:
    """A platform context with the schema in place."""
    ctx = PlatformContext.create(settings)
    create_schema(ctx.engine)
    yield ctx
    ctx.close()


# Browser fixtures, registered once for the whole suite (imported last: support.py uses the
# helpers above).
from tests.web.support import browser, live_server, open_context, screenshot_dir  # noqa: E402, F401
