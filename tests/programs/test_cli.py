"""`busanchain programs ...` commands: create from JSON, import (with a per-row report),
disburse with progress bars, list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from busanchain.cli.programs import app
from busanchain.platform.context import PlatformContext
from tests.conftest import REPO_ROOT
from tests.programs.conftest import csv_bytes, program_fields, resident_rows


@pytest.fixture
def env(platform: PlatformContext, monkeypatch: pytest.MonkeyPatch) -> PlatformContext:
    s = platform.settings
    for key, value in {
        "BUSANCHAIN_ROOT": str(REPO_ROOT),
        "BUSANCHAIN_DATA_DIR": str(s.data_dir),
        "BUSANCHAIN_DATABASE_URL": s.database_url,
        "BUSANCHAIN_RPC_URL": str(s.rpc_url),
        "BUSANCHAIN_OPERATOR_KEY": str(s.operator_key),
        "BUSANCHAIN_KEK": str(s.kek_env),
    }.items():
        monkeypatch.setenv(key, value)
    return platform


def test_create_import_disburse_list(env: PlatformContext, tmp_path: Path) -> None:
    runner = CliRunner()
    rules = tmp_path / "program.json"
    rules.write_text(json.dumps(program_fields()), encoding="utf-8")
    created = runner.invoke(app, ["create", "--file", str(rules)])
    assert created.exit_code == 0, created.output
    program_id = json.loads(created.stdout)["id"]
    bad_rows = resident_rows(3, seed=5)
    bad_rows[2]["district"] = "서울"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(bad_rows))
    refused = runner.invoke(app, ["import", str(program_id), str(bad)])
    assert refused.exit_code == 2
    assert "district" in refused.output and "4" in refused.output
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(resident_rows(5, seed=6)))
    imported = runner.invoke(app, ["import", str(program_id), str(good)])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["rows"] == 5
    paid = runner.invoke(app, ["disburse", str(program_id), "--mode", "direct"])
    assert paid.exit_code == 0, paid.output
    assert json.loads(paid.stdout)["state"] == "done"
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "1,500,000" in listed.stdout
