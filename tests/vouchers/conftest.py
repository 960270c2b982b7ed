"""Fixtures of the allowance (voucher) tests.

`warp_node` is a node of this module's own: tests may warp its clock, kill -9 it and restart
it from its snapshot (never do that to the session-wide `anvil`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from busanchain.chain.node import AnvilSupervisor
from tests.conftest import start_anvil


@pytest.fixture(scope="module")
def warp_node(
    tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path
) -> Iterator[AnvilSupervisor]:
    """An automining node owned by one test module: its time may be warped, it may be killed.

    Its state (snapshots) lives in /dev/shm when available: snapshots are taken often."""
    shm = Path("/dev/shm")
    fast = shm if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path_factory.getbasetemp()
    with tempfile.TemporaryDirectory(prefix="warp-node-", dir=fast) as state_dir:
        node = start_anvil(Path(state_dir), anvil_binary)
        try:
            yield node
        finally:
            node.stop(snapshot=False)
