"""`busanchain merchants ...`: the registrar's work and shop reports from the command line.

The CLI acts as the platform operator (the registrar key on chain); decisions it records
carry no official's user id unless `--by` names one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar

import typer
from rich.console import Console

from busanchain.config import Settings
from busanchain.domain.errors import BusanchainError
from busanchain.platform.context import PlatformContext

app = typer.Typer(help="가맹점 / Merchants: review, registry, reports.", no_args_is_help=True)
console = Console(stderr=True)
T = TypeVar("T")

By = typer.Option(None, "--by", help="User id of the deciding official (for the record).")
Note = typer.Option(None, "--note", help="Reason, shown to the shop.")


@contextmanager
def _context() -> Iterator[PlatformContext]:
    context = PlatformContext.create(Settings.from_env())
    try:
        yield context
    finally:
        context.close()


def _run(work: Callable[[PlatformContext], T]) -> T:
    """Run `work` with a context; print BusanchainErrors in both languages and exit 2."""
    try:
        with _context() as context:
            return work(context)
    except BusanchainError as exc:
        console.print(f"[red]오류 / error:[/red] {exc.message_ko}\n  {exc.message_en}")
        raise typer.Exit(code=2) from None


def _emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def _service(context: PlatformContext) -> Any:
    from busanchain.merchants.service import MerchantService

    return MerchantService(context)


@app.command("list")
def list_command(
    status: str | None = typer.Option(
        None, help="applied, registering, active, suspended, rejected"
    ),
) -> None:
    """List merchants (all, or in one status)."""
    views = _run(lambda c: _service(c).applications(status))
    _emit([v.owner_dict() for v in views])


@app.command("approve")
def approve_command(merchant_id: int, by: int | None = By) -> None:
    """Register an applied shop on chain (re-run to finish a pending registration)."""
    _emit(_run(lambda c: _service(c).approve(merchant_id, by)).owner_dict())


@app.command("reject")
def reject_command(merchant_id: int, note: str | None = Note, by: int | None = By) -> None:
    """Reject a waiting application."""
    _emit(_run(lambda c: _service(c).reject(merchant_id, by, note)).owner_dict())


@app.command("suspend")
def suspend_command(merchant_id: int, note: str | None = Note, by: int | None = By) -> None:
    """Suspend an active shop on chain."""
    _emit(_run(lambda c: _service(c).suspend(merchant_id, by, note)).owner_dict())


@app.command("reactivate")
def reactivate_command(merchant_id: int, note: str | None = Note, by: int | None = By) -> None:
    """Reactivate a suspended shop on chain."""
    _emit(_run(lambda c: _service(c).reactivate(merchant_id, by, note)).owner_dict())


@app.command("report")
def report_command(
    merchant_id: int,
    day: str | None = typer.Option(None, help="KST business day, YYYY-MM-DD (default: today)."),
) -> None:
    """A shop's daily settlement report as JSON."""
    from busanchain.merchants.rules import business_day

    try:
        chosen = date.fromisoformat(day) if day else business_day()
    except ValueError:
        console.print("[red]오류 / error:[/red] day: YYYY-MM-DD")
        raise typer.Exit(code=2) from None
    _emit(_run(lambda c: _service(c).daily_report(merchant_id, chosen)))
