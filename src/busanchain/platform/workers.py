"""Web worker processes: more cores for the web app, beside the one runtime.

The runtime (node supervisor, relayer, reconciler, indexer) runs in one process and holds the
database's runtime lock (`db/runlock.py`). One Python process serves the web app on about one
core (the GIL), so `BUSANCHAIN_WEB_WORKERS=N` adds N-1 processes that serve the same app from
the same listening socket: the kernel hands each new connection to whichever process accepts
it first. A worker runs no loops; what crosses processes is kept in the database (payment
checks, wallet claims, idempotency keys, throttles, sessions) or is a per-process cache of
public chain facts.

Workers are started with `python -m busanchain.web.workers`: the listening socket is passed
as an inherited file descriptor and the settings as JSON on standard input (they hold
secrets, which then never appear in the process list or the environment). A worker that
dies is started again; a worker whose parent dies stops by itself.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from busanchain.config import Settings
from busanchain.domain.errors import ConfigurationError

log = logging.getLogger(__name__)
WORKER_MODULE = "busanchain.web.workers"
DEFAULT_APP = "busanchain.web.app:create_app"
RESTART_PAUSE_S = 1.0  # between a worker's death and its restart
BACKLOG = 2048


class PortInUse(ConfigurationError):
    """The web server's address cannot be bound."""

    code = "port_in_use"

    def __init__(self, host: str, port: int, why: str) -> None:
        super().__init__(
            f"Cannot listen on {host}:{port} ({why}). Stop what uses it, or set "
            "BUSANCHAIN_WEB_PORT.",
            f"{host}:{port}에서 요청을 받을 수 없습니다({why}). 그 포트를 쓰는 프로그램을 "
            "멈추거나 BUSANCHAIN_WEB_PORT를 바꾸세요.",
        )


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound and listening on (host, port), inheritable by worker processes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


class WorkerFailed(ConfigurationError):
    """A web worker process did not start serving."""

    code = "web_worker_failed"

    def __init__(self, pid: int, why: str) -> None:
        super().__init__(
            f"Web worker process {pid} did not start ({why}); its error is in the log above.",
            f"웹 워커 프로세스 {pid}가 시작하지 못했습니다({why}). 오류는 위 로그에 있습니다.",
        )


def _read_line(process: subprocess.Popen[bytes], into: list[bytes]) -> None:
    assert process.stdout is not None
    into.append(process.stdout.readline())


class WorkerPool:
    """`count` worker processes serving `app` (a "module:factory" taking a context) on
    `sock`, each optionally passed through `wraps` ("module:function" taking the app)."""

    def __init__(
        self,
        settings: Settings,
        sock: socket.socket,
        count: int,
        app: str = DEFAULT_APP,
        wraps: Sequence[str] = (),
    ) -> None:
        self.settings, self.sock, self.count = settings, sock, count
        self.app, self.wraps = app, tuple(wraps)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.restarts = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def pids(self) -> list[int]:
        """The worker processes' pids."""
        return [p.pid for p in self.processes]

    def start(self) -> None:
        """Start the workers and the thread that restarts any that dies."""
        self.processes = [self._spawn() for _ in range(self.count)]
        self._watcher = threading.Thread(target=self._watch, name="web-workers", daemon=True)
        self._watcher.start()

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until every worker serves (each writes one line when its server started).

        Raises WorkerFailed if one exits first or is not serving within `timeout_s`.
        """
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            outcome: list[bytes] = []
            reader = threading.Thread(
                target=_read_line, args=(process, outcome), name="worker-ready", daemon=True
            )
            reader.start()
            reader.join(max(0.1, deadline - time.monotonic()))
            if not outcome or not outcome[0]:
                why = "exited" if outcome or process.poll() is not None else "timed out"
                raise WorkerFailed(process.pid, why)

    def _spawn(self) -> subprocess.Popen[bytes]:
        fd = self.sock.fileno()
        parent = str(os.getpid())
        argv = [sys.executable, "-m", WORKER_MODULE, str(fd), parent, self.app, *self.wraps]
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(fd,)
        )
        assert process.stdin is not None
        process.stdin.write(self.settings.to_json().encode())
        process.stdin.close()
        return process

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for index, process in enumerate(self.processes):
                if process.poll() is None or self._stopping.is_set():
                    continue
                log.warning(
                    "web worker %s exited (%s); starting another", process.pid, process.returncode
                )
                time.sleep(RESTART_PAUSE_S)
                if not self._stopping.is_set():
                    self.processes[index] = self._spawn()
                    self.restarts += 1

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the workers: SIGTERM (uvicorn finishes the requests in hand), then SIGKILL."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
