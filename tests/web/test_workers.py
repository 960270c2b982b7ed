"""A web worker process (`busanchain.web.workers`) outlives neither its parent nor a bad start.

The parent here is a small Python process running a real WorkerPool; the worker's app is
`slow_app`, whose factory takes `SLOW_START_S`, so that the parent can die while the worker
is still starting (as `kill -9` of `busanchain up` may do).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from busanchain.config import Settings
from busanchain.platform.context import PlatformContext
from busanchain.platform.workers import WorkerFailed, WorkerPool, listening_socket
from tests.conftest import REPO_ROOT
from tests.crash.helpers import wait_until

SLOW_START_S = 2.0

PARENT = """
import sys, time
from busanchain.config import Settings
from busanchain.platform.workers import WorkerPool, listening_socket
settings = Settings.from_json(sys.stdin.read())
pool = WorkerPool(settings, listening_socket("127.0.0.1", 0), 1, app=sys.argv[1])
pool.start()
print(pool.pids[0], flush=True)
time.sleep(600)
"""


def slow_app(_context: PlatformContext) -> Starlette:
    """An empty app whose construction takes SLOW_START_S."""
    time.sleep(SLOW_START_S)
    return Starlette()


def failing_app(_context: PlatformContext) -> Any:
    """An app factory that fails, as a broken configuration would."""
    raise RuntimeError("this app cannot be built")


def _settings(tmp_path: Path) -> Settings:
    return Settings.from_env(environ={}, root=REPO_ROOT).with_overrides(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'w.db'}"
    )


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_a_worker_stops_when_its_parent_dies_while_it_starts(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, "tests.web.test_workers:slow_app"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    assert parent.stdin is not None and parent.stdout is not None
    parent.stdin.write(_settings(tmp_path).to_json().encode())
    parent.stdin.close()
    worker = int(parent.stdout.readline())
    try:
        os.kill(parent.pid, signal.SIGKILL)  # the worker is still in slow_app
        parent.wait(timeout=10)
        assert not _ended(worker)
        wait_until(lambda: _ended(worker), timeout_s=SLOW_START_S + 10, what="worker ends")
    finally:
        if not _ended(worker):
            os.kill(worker, signal.SIGKILL)


def test_a_worker_that_cannot_start_is_reported_at_once(tmp_path: Path) -> None:
    pool = WorkerPool(
        _settings(tmp_path),
        listening_socket("127.0.0.1", 0),
        1,
        app="tests.web.test_workers:failing_app",
    )
    pool.start()
    started = time.monotonic()
    try:
        with pytest.raises(WorkerFailed) as failed:
            pool.wait_ready(timeout_s=60)
        assert time.monotonic() - started < 30
        assert "exited" in failed.value.message_en
        assert "시작하지 못했습니다" in failed.value.message_ko
    finally:
        pool.stop()
        pool.sock.close()
