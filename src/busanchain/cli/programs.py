"""`busanchain programs ...`: officials' bulk work from the command line, with progress bars.

    busanchain programs create --file program.json
    busanchain programs import 3 residents.xlsx
    busanchain programs disburse 3 --mode merkle
    busanchain programs list

The commands talk to the platform's chain (BUSANCHAIN_RPC_URL, or the embedded node of a
running `busanchain up`) and database, like the web app. Progress goes to stderr.
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from busanchain.config import Settings
from busanchain.domain.errors import BusanchainError
from busanchain.platform.context import PlatformContext

app = typer.Typer(help="정책 수당 / Allowance programs: create, import residents, disburse.")
console = Console(stderr=True)
ProgressFn = Callable[[str, int, int], None]


@contextmanager
def _context() -> Iterator[PlatformContext]:
    from busanchain.db.migrate import upgrade
    from busanchain.platform.runtime import with_default_secrets

    context = PlatformContext.create(with_default_secrets(Settings.from_env()))
    try:
        upgrade(context.engine)
        yield context
    finally:
        context.close()


@contextmanager
def _bars() -> Iterator[ProgressFn]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield report


def _fail(exc: BusanchainError) -> None:
    console.print(f"[red]오류 / error:[/red] {exc.message_ko}\n  {exc.message_en}")
    errors = exc.details.get("errors") if isinstance(exc.details, dict) else None
    if errors:
        table = Table("row/행", "column/열", "오류", "error")
        for e in errors:
            table.add_row(str(e["row"]), e["column"], e["message_ko"], e["message_en"])
        console.print(table)
        total = exc.details.get("error_count", len(errors))
        console.print(f"{total} problem(s); import id {exc.details.get('import_id')}")
    raise typer.Exit(code=2)


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command("create")
def create(
    file: Path = typer.Option(..., exists=True, dir_okay=False, help="Program rules (JSON)."),
    draft: bool = typer.Option(False, help="Keep it a draft (nothing on chain yet)."),
) -> None:
    """Create a program from a JSON file and lock its budget on chain."""
    from busanchain.programs.service import ProgramService

    data = json.loads(file.read_text(encoding="utf-8"))
    with _context() as context:
        try:
            view = ProgramService(context).create(None, data, publish=not draft)
        except BusanchainError as exc:
            _fail(exc)
            return
    _print(view.as_dict())


@app.command("publish")
def publish(program_id: int) -> None:
    """Publish a draft (lock its budget on chain); finishes an interrupted publication."""
    from busanchain.programs.service import ProgramService

    with _context() as context:
        try:
            view = ProgramService(context).publish(program_id)
        except BusanchainError as exc:
            _fail(exc)
            return
    _print(view.as_dict())


@app.command("import")
def import_residents(
    program_id: int, file: Path = typer.Argument(..., exists=True, dir_okay=False)
) -> None:
    """Import eligible residents (CSV or XLSX): all rows, or none with a per-row report."""
    from busanchain.programs.importer import ResidentImporter

    with _context() as context, _bars() as report:
        try:
            result = ResidentImporter(context).import_file(
                program_id, file.name, file.read_bytes(), progress=report
            )
        except BusanchainError as exc:
            _fail(exc)
            return
    _print(result.as_dict())


@app.command("disburse")
def disburse(
    program_id: int,
    mode: str = typer.Option("merkle", help="merkle (one root) or direct (batch grants)."),
) -> None:
    """Disburse to everyone waiting (resumes an interrupted round first)."""
    from busanchain.programs.disburse import Disburser

    with _context() as context, _bars() as report:
        try:
            view = Disburser(context).run_round(program_id, None, mode, progress=report)
        except BusanchainError as exc:
            _fail(exc)
            return
    _print(view.as_dict())


@app.command("resume")
def resume(program_id: int | None = typer.Argument(None)) -> None:
    """Finish rounds and publications interrupted by a crash."""
    from busanchain.programs.disburse import Disburser
    from busanchain.programs.service import ProgramService

    with _context() as context, _bars() as report:
        try:
            ProgramService(context).finish_all()
            views = Disburser(context).resume(program_id, report)
        except BusanchainError as exc:
            _fail(exc)
            return
    _print([v.as_dict() for v in views])


@app.command("list")
def list_programs() -> None:
    """Programs with their on-chain money (locked, unspent, unclaimed)."""
    from busanchain.programs.service import ProgramService

    with _context() as context:
        try:
            views = ProgramService(context).list_with_ledgers()
        except BusanchainError as exc:
            _fail(exc)
            return
    table = Table("id", "이름 / name", "state", "budget", "locked", "unspent", "unclaimed")
    for v in views:
        ledger = v.ledger or {}
        table.add_row(
            str(v.id),
            f"{v.name_ko} / {v.name_en}",
            v.state,
            f"{v.budget:,}",
            *(f"{ledger[k]:,}" if k in ledger else "-" for k in ("locked", "unspent", "unclaimed")),
        )
    Console().print(table)


@app.command("bench")
def bench(
    recipients: int = typer.Option(100_000, min=1, help="Recipients in the CSV."),
    baseline_recipients: int = typer.Option(20_000, min=500, help="Measured for the baseline."),
) -> None:
    """Same as `busanchain bench disburse`: CSV to spendable, vs. 500-per-tx batch grants."""
    from busanchain.programs.bench import run_disburse_bench

    with _bars() as report:
        result = run_disburse_bench(
            Settings.from_env(), recipients, baseline_recipients, progress=report
        )
    _print(result)


if __name__ == "__main__":
    app()
