"""A throwaway anvil on a chosen hardfork (the supervisor always runs cancun)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from busanchain.chain.rpc import wait_for_rpc
from tests.conftest import free_port


@contextmanager
def anvil_on_hardfork(binary: Path, hardfork: str, log: Path) -> Iterator[str]:
    """Run anvil with `--hardfork` on a free port; yield its RPC URL; stop it afterwards."""
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(port), "--hardfork", hardfork],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_rpc(url, timeout_s=20)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
