"""`busanchain reports ...`: dashboards, alerts, exports, clawback and conservation proofs.

Each command prints JSON on stdout (exports write a file); errors are printed in Korean and
English on stderr with exit code 2. The commands use the platform's database and chain
(BUSANCHAIN_* settings), like the web app.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from busanchain.config import Settings
from busanchain.domain.errors import BusanchainError
from busanchain.platform.context import PlatformContext

app = typer.Typer(help="현황 보고서 / Reports: dashboards, alerts, exports, expiry clawback.")
console = Console(stderr=True)
ProgramOption = typer.Option(None, "--program-id", min=1, help="One program (default: all).")
LangOption = typer.Option("ko", "--lang", help="ko or en (headers and names).")


@contextmanager
def _context() -> Iterator[PlatformContext]:
    context = PlatformContext.create(Settings.from_env())
    try:
        yield context
    except BusanchainError as exc:
        console.print(f"[red]오류 / error:[/red] {exc.message_ko}\n  {exc.message_en}")
        raise typer.Exit(code=2) from exc
    finally:
        context.close()


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@app.command("dashboard")
def dashboard_command(program_id: int | None = ProgramOption) -> None:
    """Spending by category, district and day; unspent money; expiry forecast."""
    from busanchain.reports.service import ReportService

    with _context() as context:
        _emit(ReportService(context).dashboard(program_id).as_dict())


@app.command("alerts")
def alerts_command(program_id: int | None = ProgramOption) -> None:
    """Cash-out ("깡") alerts over the last 90 days of payments."""
    from busanchain.reports.alerts import AlertService

    with _context() as context:
        _emit([a.as_dict() for a in AlertService(context).alerts(program_id)])


@app.command("conservation")
def conservation_command(program_id: int = typer.Argument(..., min=1)) -> None:
    """The on-chain conservation proof of a program at the latest block."""
    from busanchain.reports.conservation import ConservationProver

    with _context() as context:
        _emit(ConservationProver(context).prove(program_id))


@app.command("clawback")
def clawback_command() -> None:
    """The expiry-clawback report of every program on chain."""
    from busanchain.reports.clawback import clawback_report

    with _context() as context:
        _emit([r.as_dict() for r in clawback_report(context)])


@app.command("withdraw-expired")
def withdraw_expired_command(
    program_id: int = typer.Argument(..., min=1),
    official_user_id: int | None = typer.Option(None, help="Recorded as the requester."),
) -> None:
    """Send an expired program's unspent backing to the treasury (once; a repeat records)."""
    from busanchain.reports.clawback import withdraw_expired

    with _context() as context:
        _emit(withdraw_expired(context, program_id, official_user_id).as_dict())


@app.command("export")
def export_command(
    kind: str = typer.Argument(..., help="payments, programs or clawback"),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
    fmt: str = typer.Option("csv", "--format", help="csv or xlsx"),
    program_id: int | None = ProgramOption,
    lang: str = LangOption,
) -> None:
    """Write an export (CSV with BOM, or XLSX) to a file."""
    from busanchain.reports import exports

    makers: dict[str, Callable[[PlatformContext], exports.Table]] = {
        "payments": lambda c: exports.payments_table(c, program_id, lang),
        "programs": lambda c: exports.programs_table(c, lang),
        "clawback": lambda c: exports.clawback_table(c, lang),
    }
    if kind not in makers:
        console.print("kind must be payments, programs or clawback / 종류가 올바르지 않습니다")
        raise typer.Exit(code=2)
    with _context() as context:
        _media, _name, body = exports.render(makers[kind](context), fmt, lang)
        with output.open("wb") as handle:
            for chunk in body:
                handle.write(chunk)
    console.print(f"{output}")
