"""`busanchain reports ...` (the typer app the main CLI mounts), on the test's database."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from busanchain.cli.reports import app
from busanchain.platform.context import PlatformContext
from tests.crash.helpers import platform_env
from tests.reports.conftest import GROCERY, Rows


def _invoke(context: PlatformContext, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=platform_env(context.settings))
    return result.exit_code, result.stdout, result.stderr


def test_dashboard_alerts_and_export(context: PlatformContext, rows: Rows, tmp_path: Path) -> None:
    rows.program(1)
    rows.merchant("BS-CLI001", GROCERY)
    rows.pay("BS-CLI001", 8_000)
    rows.pay("BS-CLI001", 2_000)
    code, out, _err = _invoke(context, "dashboard", "--program-id", "1")
    assert code == 0, out
    assert json.loads(out)["totals"]["spent"] == 10_000
    code, out, _err = _invoke(context, "alerts")
    assert code == 0 and json.loads(out) == []
    target = tmp_path / "payments.xlsx"
    code, out, _err = _invoke(context, "export", "payments", "-o", str(target), "--format", "xlsx")
    assert code == 0, out
    sheet = load_workbook(target, read_only=True)["payments"]
    assert len(list(sheet.iter_rows(values_only=True))) == 3


def test_errors_are_bilingual_with_exit_code_2(context: PlatformContext, tmp_path: Path) -> None:
    code, _out, err = _invoke(context, "conservation", "5")  # contracts not deployed
    assert code == 2 and "오류 / error" in err
    code, _out, _err = _invoke(
        context, "export", "payments", "-o", str(tmp_path / "x"), "--format", "pdf"
    )
    assert code == 2
    code, _out, _err = _invoke(context, "export", "nothing", "-o", str(tmp_path / "y"))
    assert code == 2
