"""One runtime per database: a second is refused, a killed one leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from busanchain.config import Settings
from busanchain.db.engine import make_engine
from busanchain.db.runlock import RuntimeAlreadyRunning, RuntimeLock, runtime_running
from busanchain.platform.runtime import PlatformRuntime, runtime_file
from tests.conftest import PG_URL_ENV, _pg_schema_url

HOLD = """
import sys, time
from busanchain.db.engine import make_engine
from busanchain.db.runlock import RuntimeLock
lock = RuntimeLock(make_engine(sys.argv[1]))  # kept: the lock lives as long as it
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def other_url(tmp_path: Path) -> Iterator[str]:
    """A second database of the same kind as `database_url`."""
    pg = os.environ.get(PG_URL_ENV)
    if pg:
        yield from _pg_schema_url(pg)
    else:
        yield f"sqlite:///{tmp_path / 'other.sqlite3'}"


def test_a_second_lock_is_refused_until_the_first_is_released(database_url: str) -> None:
    first, second = RuntimeLock(make_engine(database_url)), RuntimeLock(make_engine(database_url))
    first.acquire()
    with pytest.raises(RuntimeAlreadyRunning) as refused:
        second.acquire()
    assert "already using this database" in refused.value.message("en")
    assert "다른 busanchain 런타임" in refused.value.message("ko")
    if first.path() is not None:
        assert f"pid {os.getpid()}" in refused.value.message("en")
    assert first.held and not second.held
    first.release()
    second.acquire()
    assert second.held
    second.release()
    first.acquire()  # released twice over: still takes and gives back cleanly
    first.release()


def test_the_probe_sees_a_held_lock_and_leaves_it_free(database_url: str) -> None:
    engine = make_engine(database_url)
    lock = RuntimeLock(engine)
    assert not runtime_running(engine)
    lock.acquire()
    assert runtime_running(engine) and runtime_running(make_engine(database_url))
    lock.release()
    assert not runtime_running(engine)
    lock.acquire()  # the probe took nothing for itself
    lock.release()


def test_other_databases_have_their_own_lock(database_url: str, other_url: str) -> None:
    one, two = RuntimeLock(make_engine(database_url)), RuntimeLock(make_engine(other_url))
    one.acquire()
    try:
        two.acquire()  # another SQLite file, or another PostgreSQL schema
        two.release()
    finally:
        one.release()


def test_the_lock_of_a_killed_process_is_free(database_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, database_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        lock = RuntimeLock(make_engine(database_url))
        with pytest.raises(RuntimeAlreadyRunning):
            lock.acquire()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    deadline = time.monotonic() + 20
    while True:  # PostgreSQL ends the session when it sees the socket closed
        try:
            lock.acquire()
            break
        except RuntimeAlreadyRunning:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    lock.release()


def test_a_runtime_on_a_held_database_stops_before_touching_anything(settings: Settings) -> None:
    holder = RuntimeLock(make_engine(settings.database_url))
    holder.acquire()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime_file(settings).write_text('{"pid": 1}', encoding="utf-8")  # the holder's
    try:
        runtime = PlatformRuntime(settings)
        with pytest.raises(RuntimeAlreadyRunning):
            runtime.start()
        assert runtime.node is None and runtime.reconciler is None
        assert runtime_file(settings).read_text(encoding="utf-8") == '{"pid": 1}'
    finally:
        holder.release()
