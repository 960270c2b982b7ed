"""One web worker process: `python -m busanchain.web.workers FD PARENT APP [WRAP ...]`.

Started by `platform/workers.py`'s WorkerPool: serves APP ("module:factory", called with a
PlatformContext) on the inherited listening socket FD, with the settings read as JSON from
standard input. It runs none of the runtime's loops. It writes one line to standard output
once it serves, and stops when its parent (pid PARENT) is gone, even when that happens
while it is still starting: the parent's pid comes from the parent, not from getppid() at
some later moment, when it may already be init's.
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

PARENT_POLL_S = 0.5
GRACEFUL_STOP_S = 10  # an orphaned worker stops even if a request hangs


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
    # uvicorn's own graceful shutdown once it serves; before that, SIGTERM's default: exit
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str]) -> None:
    """Serve until SIGTERM or the parent's end."""
    fd, parent, app_spec, *wraps = argv
    threading.Thread(target=_stop_with_parent, args=(int(parent),), daemon=True).start()
    settings = Settings.from_json(sys.stdin.read())
    context = PlatformContext.create(settings)
    app = _load(app_spec)(context)
    for wrap in wraps:
        app = _load(wrap)(app)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=GRACEFUL_STOP_S
    )
    server = uvicorn.Server(config)
    threading.Thread(target=_announce_when_started, args=(server,), daemon=True).start()
    try:
        server.run(sockets=[socket.socket(fileno=int(fd))])
    finally:
        context.close()


if __name__ == "__main__":
    main(sys.argv[1:])
