"""`busanchain bench ...`: benchmarks on private nodes, each printing one JSON object.

Progress goes to stderr (rich progress bars); stdout carries only the JSON result, so
`busanchain bench payments --seconds 20 --json > result.json` works.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from busanchain.config import Settings

bench_app = typer.Typer(help="Benchmarks on a private node; one JSON object on stdout.")
console = Console(stderr=True)

ProgressFn = Callable[[str, int, int], None]
"""progress(stage, done, total): called by long benchmarks."""


@contextmanager
def _progress() -> Iterator[ProgressFn]:
    """A rich progress display with one bar per stage."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bars:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield report


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


JsonFlag = typer.Option(True, "--json/--no-json", help="Print the result as JSON (default).")


@bench_app.command("outbox")
def bench_outbox_command(
    count: int = typer.Option(300, min=1, max=100_000, help="Transactions per measured path."),
    as_json: bool = JsonFlag,
) -> None:
    """Outbox overhead: durable transactions vs. plain signed sends."""
    from busanchain.platform.bench import bench_outbox

    _emit(bench_outbox(Settings.from_env().root, count))


@bench_app.command("snapshots")
def bench_snapshots_command(
    txs: int = typer.Option(20_000, min=0, max=1_000_000, help="Transfers mined first."),
    empty_blocks: int = typer.Option(
        0, min=0, max=10_000_000, help="Empty blocks mined after them (86,400 = a day at 1 s)."
    ),
    rounds: int = typer.Option(8, min=1, max=1_000, help="Snapshots measured per path."),
    as_json: bool = JsonFlag,
) -> None:
    """Periodic snapshot of a still node: found unchanged vs. checked and written again."""
    from busanchain.platform.bench import bench_snapshots

    with _progress() as report:
        result = bench_snapshots(
            Settings.from_env().root, txs, rounds, empty_blocks, progress=report
        )
    _emit(result)


@bench_app.command("disburse")
def bench_disburse_command(
    recipients: int = typer.Option(100_000, min=1, max=5_000_000, help="Recipients in the CSV."),
    baseline_recipients: int = typer.Option(
        20_000, min=1_000, max=1_000_000, help="Recipients measured for the batch baseline."
    ),
    as_json: bool = JsonFlag,
) -> None:
    """CSV to every recipient able to spend (Merkle round) vs. 500-per-tx batch grants."""
    from busanchain.programs.bench import run_disburse_bench

    with _progress() as report:
        result = run_disburse_bench(
            Settings.from_env(), recipients, baseline_recipients, progress=report
        )
    _emit(result)


@bench_app.command("payments")
def bench_payments_command(
    seconds: float = typer.Option(20.0, min=1.0, max=3_600.0, help="Measured seconds."),
    citizens: int = typer.Option(200, min=1, max=100_000, help="Simulated citizens."),
    concurrency: int = typer.Option(64, min=1, max=1_024, help="Concurrent HTTP clients."),
    as_json: bool = JsonFlag,
) -> None:
    """Payments through the public HTTP API, to on-chain confirmation, vs. one tx each."""
    from busanchain.payments.bench import run_payments_bench
    from busanchain.web.app import create_app

    with _progress() as report:
        result = run_payments_bench(
            seconds, citizens, concurrency, progress=report, app_factory=create_app
        )
    _emit(result)


@bench_app.command("expiry")
def bench_expiry_command(
    holders: str = typer.Option("10,1000,100000", help="Comma-separated holder counts."),
    as_json: bool = JsonFlag,
) -> None:
    """Gas of withdrawing an expired program's backing, for different numbers of holders."""
    from busanchain.reports.bench import expiry_gas

    counts = [int(part) for part in holders.split(",") if part.strip()]
    _emit(expiry_gas(counts))


@bench_app.command("mint")
def bench_mint_command(
    photos: int = typer.Option(20, min=1, max=10_000, help="12 MP photos per pass."),
    parallel: int = typer.Option(
        1, min=1, max=32, help="Also run as many fresh photos with K workers (K > 1)."
    ),
    block_time: float = typer.Option(
        1.0, min=0.0, max=60.0, help="anvil block time; 0 = automine."
    ),
    baseline: bool = typer.Option(
        True, help="Also run the two-step flow (claim, then publish) as the same run's baseline."
    ),
    as_json: bool = JsonFlag,
) -> None:
    """12 MP upload to an NFT visible in the gallery, over HTTP: seconds per photo."""
    from busanchain.studio.bench import run_mint_bench
    from busanchain.web.app import create_app

    with _progress() as report:
        result = run_mint_bench(
            photos,
            parallel,
            block_time or None,
            progress=report,
            app_factory=create_app,
            two_step_baseline=baseline,
        )
    _emit(result)


@bench_app.command("gallery")
def bench_gallery_command(
    nfts: int = typer.Option(10_000, min=1, max=1_000_000, help="Published NFTs in the gallery."),
    clients: int = typer.Option(200, min=1, max=2_000, help="Concurrent HTTP clients."),
    seconds: float = typer.Option(20.0, min=1.0, max=3_600.0, help="Measured seconds per run."),
    pages: str = typer.Option(
        "auto", help="auto (HTML pages if served, else JSON API), api, html or both."
    ),
    workers: int = typer.Option(
        1, min=1, max=16, help="Processes serving the app (as BUSANCHAIN_WEB_WORKERS)."
    ),
    as_json: bool = JsonFlag,
) -> None:
    """Browse, search and token pages under concurrent clients: p50/p95 and requests/s."""
    from busanchain.gallery.bench import PAGE_MODES, run_gallery_bench
    from busanchain.web.app import create_app

    if pages not in PAGE_MODES:
        raise typer.BadParameter(f"pages: one of {', '.join(PAGE_MODES)}", param_hint="--pages")

    with _progress() as report:
        result = run_gallery_bench(
            nfts, clients, seconds, pages, progress=report, app_factory=create_app, workers=workers
        )
    _emit(result)
