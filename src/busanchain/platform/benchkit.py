"""Shared parts of the HTTP benchmarks: a private platform, a served app, percentiles.

A benchmark runs on its own anvil node, its own SQLite database and its own uvicorn on
loopback, so it never touches the developer's platform and two benchmarks never share state.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from busanchain.chain.node import AnvilConfig, AnvilSupervisor, find_anvil_binary
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from busanchain.db.migrate import upgrade
from busanchain.platform.context import PlatformContext
from busanchain.platform.workers import DEFAULT_APP, WorkerPool, listening_socket

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called by long benchmarks."""

AppFactory = Callable[[PlatformContext], Any]
"""busanchain.web.app.create_app, passed in by the CLI (only entry points import web)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def noop_progress(stage: str, done: int, total: int) -> None:
    """No progress display."""


@contextmanager
def private_platform(
    root: Path,
    prefix: str = "busanchain-paybench-",
    block_time: float | None = 1.0,
    gas_limit: int = 1_000_000_000,
) -> Iterator[tuple[PlatformContext, AnvilSupervisor]]:
    """A platform on its own anvil node and SQLite database in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        node = AnvilSupervisor(
            AnvilConfig(
                binary=find_anvil_binary(root / "node_modules"),
                state_dir=Path(tmp) / "chain",
                port=free_port(),
                block_time=block_time,
                gas_limit=gas_limit,
            )
        )
        node.start(watch=False)
        settings = Settings.from_env(environ={}, root=root).with_overrides(
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/bench.sqlite3",
            rpc_url=node.config.rpc_url,
            operator_key=ANVIL_DEFAULT_OPERATOR_KEY,
            kek_env=secrets.token_hex(32),
            session_secret=secrets.token_hex(16),
        )
        context = PlatformContext.create(settings)
        try:
            upgrade(context.engine)
            yield context, node
        finally:
            context.close()
            node.stop(snapshot=False)


@contextmanager
def serve(context: PlatformContext, app_factory: AppFactory) -> Iterator[str]:
    """Serve the app with uvicorn on a free loopback port (in a thread); yields the base URL."""
    with serve_pool(context, app_factory) as (url, _pids):
        yield url


@contextmanager
def serve_pool(
    context: PlatformContext,
    app_factory: AppFactory,
    workers: int = 1,
    app_spec: str = DEFAULT_APP,
    wraps: Sequence[str] = (),
) -> Iterator[tuple[str, list[int]]]:
    """`serve`, from `workers` processes as `busanchain up` does with BUSANCHAIN_WEB_WORKERS:
    this one (`app_factory`) and workers-1 worker processes (`app_spec`, then `wraps`) on
    the same socket. Yields the base URL and the worker processes' pids."""
    import uvicorn

    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    pool = WorkerPool(context.settings, sock, workers - 1, app_spec, wraps)
    config = uvicorn.Config(app_factory(context), log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    try:
        pool.start()
        pool.wait_ready()
        thread.start()
        while not server.started:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", pool.pids
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        pool.stop()
        sock.close()


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far; 0.0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(seconds: Sequence[float], fraction: float) -> float | None:
    """The `fraction` percentile (nearest rank) of durations in seconds, unrounded."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def percentile_ms(seconds: Sequence[float], fraction: float) -> float | None:
    """The `fraction` percentile (nearest rank) of durations in seconds, in milliseconds."""
    value = percentile(seconds, fraction)
    return None if value is None else round(1000 * value, 1)


def machine_load() -> dict[str, Any]:
    """CPU count and the 1/5/15-minute load averages (the machine is shared)."""
    one, five, fifteen = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": [round(one, 2), round(five, 2), round(fifteen, 2)],
    }
