"""One web worker process: `python -m busanchain.web.workers FD APP [WRAP ...]`.

Started by `platform/workers.py`'s WorkerPool: serves APP ("module:factory", called with a
PlatformContext) on the inherited listening socket FD, with the settings read as JSON from
standard input. It runs none of the runtime's loops. It writes one line to standard output
once it serves, and stops when its parent is gone.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

import uvicorn

from busanchain.config import Settings
from busanchain.platform.context import PlatformContext

PARENT_POLL_S = 1.0


def _load(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _announce_when_started(server: uvicorn.Server) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.02)
    print("ready", flush=True)


def _stop_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own graceful shutdown


def main(argv: list[str]) -> None:
    """Serve until SIGTERM or the parent's end."""
    fd, app_spec, *wraps = argv
    settings = Settings.from_json(sys.stdin.read())
    context = PlatformContext.create(settings)
    app = _load(app_spec)(context)
    for wrap in wraps:
        app = _load(wrap)(app)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    threading.Thread(target=_announce_when_started, args=(server,), daemon=True).start()
    threading.Thread(target=_stop_with_parent, args=(os.getppid(),), daemon=True).start()
    try:
        server.run(sockets=[socket.socket(fileno=int(fd))])
    finally:
        context.close()


if __name__ == "__main__":
    main(sys.argv[1:])
