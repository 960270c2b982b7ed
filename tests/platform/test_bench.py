"""`busanchain bench snapshots` as a real subprocess: a tiny run prints the promised JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "busanchain", "bench", "snapshots", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )


@pytest.mark.chain
def test_a_small_chain_is_measured_both_ways() -> None:
    result = _bench("--txs", "41", "--empty-blocks", "30", "--rounds", "2", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["transactions"] == out["transactions_mined"] == 41
    assert out["empty_blocks"] == 30
    assert 31 <= out["blocks"] <= 71  # automine: concurrent senders may share a block
    assert out["snapshot_bytes"] > 0
    assert out["unchanged_snapshots"] == 2  # only the unchanged path found it unchanged
    for path in ("baseline_checked_and_rewritten", "found_unchanged"):
        assert out[path]["snapshots"] == 2
        assert 0 < out[path]["wall_s_median"] <= out[path]["wall_s_max"]


def test_zero_rounds_is_refused_before_any_work() -> None:
    result = _bench("--rounds", "0")
    assert result.returncode == 2
    assert result.stdout == ""
