"""`busanchain bench mint` as a real subprocess: a tiny run prints the promised JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

STAGES = {"upload", "issue", "claim_tx", "publish_tx", "visible"}


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "busanchain", "bench", "mint", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )


@pytest.mark.chain
def test_one_photo_from_upload_to_gallery() -> None:
    result = _bench("--photos", "1", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["photos"] == 1
    assert out["seconds_per_photo"] > 0
    assert 0 < out["photo_p50_s"] <= out["photo_p95_s"]
    assert set(out["stages_ms"]) == STAGES
    one_step = STAGES - {"publish_tx"}  # the claim publishes too
    assert all(out["stages_ms"][s]["p50_ms"] > 0 for s in one_step)
    assert out["stages_ms"]["publish_tx"]["p50_ms"] < 5
    baseline = out["two_step_baseline"]
    assert baseline["photos"] == 1
    assert all(baseline["stages"][s]["p50_ms"] > 0 for s in STAGES)
    assert out["upload_split_ms"]["pipeline_p50"] > 0
    assert out["visible_via"].startswith("/api/gallery/tokens/")
    assert out["parallel"] is None
    assert out["machine"]["cpus"] >= 1
    assert "4000x3000" in out["photo"]


def test_zero_photos_is_refused_before_any_work() -> None:
    result = _bench("--photos", "0")
    assert result.returncode == 2
    assert result.stdout == ""
