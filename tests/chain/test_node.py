"""The supervised anvil node keeps its spill of old states inside its own state directory."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.conftest import start_anvil


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (item.decode().split("=", 1) for item in raw if b"=" in item)
    return dict(pairs)


def test_node_home_is_inside_the_state_directory(tmp_path: Path, anvil_binary: Path) -> None:
    node = start_anvil(tmp_path / "node", anvil_binary)
    try:
        pid = int((tmp_path / "node" / "anvil.pid").read_text())
        assert _environ(pid)["HOME"] == str(tmp_path / "node" / "home")
        assert os.environ.get("HOME") != str(tmp_path / "node" / "home")
    finally:
        node.stop()


def test_spill_left_by_a_killed_node_is_cleared_on_restart(
    tmp_path: Path, anvil_binary: Path
) -> None:
    node = start_anvil(tmp_path / "node", anvil_binary)
    spill = tmp_path / "node" / "home" / ".foundry" / "anvil" / "tmp" / "anvil-state-old"
    pid = int((tmp_path / "node" / "anvil.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    node.stop()
    spill.mkdir(parents=True)
    (spill / "block").write_bytes(b"x" * 1024)

    restarted = start_anvil(tmp_path / "node", anvil_binary)
    try:
        assert not spill.exists()
    finally:
        restarted.stop()


def test_stop_deletes_the_spill_of_old_states(tmp_path: Path, anvil_binary: Path) -> None:
    node = start_anvil(tmp_path / "node", anvil_binary)
    spill = tmp_path / "node" / "home" / ".foundry" / "anvil" / "tmp" / "anvil-state-1"
    spill.mkdir(parents=True)
    (spill / "block").write_bytes(b"x" * 1024)
    node.stop()
    assert not spill.exists()
    assert (tmp_path / "node" / "home").is_dir()  # only the spill goes
