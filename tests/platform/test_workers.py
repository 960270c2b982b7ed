"""`BUSANCHAIN_WEB_WORKERS`: a real `busanchain up` serving from 3 processes on one socket.

The worker processes must answer on their own (the runtime's process is stopped with
SIGSTOP meanwhile), a killed worker is replaced, and none outlives the platform: neither a
clean stop nor a `kill -9` of the runtime's process leaves one behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from busanchain.chain.node import AnvilSupervisor
from busanchain.config import Settings
from tests.conftest import REPO_ROOT
from tests.crash.helpers import crash_settings, platform_env, wait_until

WORKERS = 3


def _workers_of(parent: int) -> list[int]:
    """The pids of `parent`'s web worker processes (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"busanchain.web.workers" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _health(settings: Settings) -> int:
    headers = {"Connection": "close"}  # a new connection each time: any process may take it
    return httpx.get(f"{settings.web_url}/api/health", timeout=5, headers=headers).status_code


@pytest.fixture
def platform_up(
    tmp_path: Path, database_url: str, anvil: AnvilSupervisor
) -> Iterator[tuple[Settings, subprocess.Popen[bytes]]]:
    settings = crash_settings(tmp_path, database_url, rpc_url=anvil.config.rpc_url)
    log = (tmp_path / "server.log").open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "busanchain", "up"],
        env=platform_env(settings, web_workers=str(WORKERS)),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    try:
        wait_until(lambda: _health(settings) == 200, timeout_s=90, what="server health")
        wait_until(lambda: len(_workers_of(server.pid)) == WORKERS - 1, what="workers")
        yield settings, server
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGCONT)
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        log.close()


def test_workers_serve_on_their_own_and_are_replaced(
    platform_up: tuple[Settings, subprocess.Popen[bytes]],
) -> None:
    settings, server = platform_up
    workers = _workers_of(server.pid)
    os.kill(server.pid, signal.SIGSTOP)  # only the workers can take connections now
    try:
        assert [_health(settings) for _ in range(20)] == [200] * 20
    finally:
        os.kill(server.pid, signal.SIGCONT)

    os.kill(workers[0], signal.SIGKILL)

    def replaced() -> bool:
        now = _workers_of(server.pid)
        return len(now) == WORKERS - 1 and workers[0] not in now

    wait_until(replaced, timeout_s=30, what="a new worker")
    assert [_health(settings) for _ in range(20)] == [200] * 20

    workers = _workers_of(server.pid)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    wait_until(lambda: not any(_alive(pid) for pid in workers), timeout_s=20, what="workers end")


def test_workers_stop_when_the_runtime_is_killed(
    platform_up: tuple[Settings, subprocess.Popen[bytes]],
) -> None:
    settings, server = platform_up
    workers = _workers_of(server.pid)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    wait_until(lambda: not any(_alive(pid) for pid in workers), timeout_s=20, what="workers end")
    with pytest.raises(httpx.TransportError):
        _health(settings)
