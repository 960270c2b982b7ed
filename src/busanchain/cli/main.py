"""`busanchain`: start, stop and inspect the platform; deploy; rotate keys; migrate."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from busanchain.cli.bench import bench_app
from busanchain.cli.merchants import app as merchants_app
from busanchain.cli.programs import app as programs_app
from busanchain.cli.reports import app as reports_app
from busanchain.cli.studio import app as studio_app
from busanchain.config import Settings
from busanchain.domain.errors import BusanchainError

app = typer.Typer(help="부산 블록체인 플랫폼 / Busan blockchain platform", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations (Alembic).")
keys_app = typer.Typer(help="Custodial key management.")
contracts_app = typer.Typer(help="Contract toolchain (solc-js, OpenZeppelin).")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(contracts_app, name="contracts")
app.add_typer(bench_app, name="bench")
app.add_typer(merchants_app, name="merchants")
app.add_typer(reports_app, name="reports")
app.add_typer(programs_app, name="programs")
app.add_typer(studio_app, name="studio")
console = Console(stderr=True)


def _settings() -> Settings:
    return Settings.from_env()


def _fail(exc: BusanchainError) -> None:
    console.print(f"[red]오류 / error:[/red] {exc.message_ko}\n  {exc.message_en}")
    raise typer.Exit(code=2)


def _exit_on_signal(_signum: int, _frame: object) -> None:
    raise SystemExit(0)  # a requested stop that completed cleanly


@app.command()
def up(demo: bool = typer.Option(False, help="Load demo data (idempotent).")) -> None:
    """Start the chain (or connect to BUSANCHAIN_RPC_URL), deploy, and serve the web app."""
    from busanchain.platform.runtime import PlatformRuntime
    from busanchain.platform.workers import PortInUse, WorkerFailed, WorkerPool, listening_socket
    from busanchain.web.app import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.monotonic()
    try:
        runtime = PlatformRuntime(_settings())
        info = runtime.start()
        demo_users: list[str] = []
        demo_lines: list[str] = []
        if demo:
            from busanchain.platform.demo import (
                DEMO_PASSWORD,
                load_allowance_demo,
                load_demo_data,
            )

            demo_users = load_demo_data(runtime)
            demo_lines = load_allowance_demo(runtime)
    except BusanchainError as exc:
        _fail(exc)
        return
    context = runtime.context
    try:
        sock = listening_socket(context.settings.web_host, context.settings.web_port)
    except OSError as exc:
        runtime.stop()
        _fail(PortInUse(context.settings.web_host, context.settings.web_port, str(exc)))
        return
    out = Console(soft_wrap=True)  # URLs stay whole when the output is not a terminal
    out.print(f"[green]busanchain is up[/green] in {time.monotonic() - started:.1f}s")
    out.print(f"  웹 / web:            {info.web_url}")
    out.print(f"  RPC:                 {info.rpc_url}")
    out.print(f"  체인 ID / chain id:  {info.chain_id}")
    out.print(f"  API 문서 / API docs: {info.web_url}/docs")
    for name, address in info.contracts.items():
        out.print(f"  {name}: {address}")
    if demo_users:
        out.print(f"  데모 계정 / demo users: {', '.join(demo_users)} (password {DEMO_PASSWORD})")
    for line in demo_lines:
        out.print(f"  {line}")
    out.print("  종료 / stop: Ctrl+C, or `.venv/bin/busanchain down`")
    settings = context.settings
    pool = WorkerPool(settings, sock, settings.web_workers - 1)
    server = uvicorn.Server(uvicorn.Config(create_app(context), log_level="warning"))
    # uvicorn re-raises SIGTERM after its own shutdown; turn it into SystemExit so that the
    # runtime still stops cleanly (final snapshot, node stopped, runtime file removed).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if pool.count:
            pool.start()
            pool.wait_ready()
            out.print(f"  웹 워커 / web workers: {settings.web_workers} processes")
        server.run(sockets=[sock])
    except WorkerFailed as exc:
        _fail(exc)
    finally:
        pool.stop()
        sock.close()
        runtime.stop()


@app.command()
def down(timeout: float = typer.Option(30.0, help="Seconds to wait for a clean stop.")) -> None:
    """Stop a platform started with `up` (clean stop: final snapshot)."""
    from busanchain.platform.runtime import runtime_file

    path = runtime_file(_settings())
    if not path.is_file():
        console.print("실행 중인 플랫폼이 없습니다 / the platform is not running")
        return
    pid = int(json.loads(path.read_text(encoding="utf-8"))["pid"])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    console.print("중지됨 / stopped" if not path.exists() else "[red]still running[/red]")


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
    """Print web URL, RPC URL, chain id, head block and contract addresses."""
    from busanchain.platform.status import platform_info

    try:
        data = asdict(platform_info(_settings()))
    except BusanchainError as exc:
        _fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    for key, value in data.items():
        console.print(f"{key}: {value}")


@app.command()
def deploy() -> None:
    """Deploy the platform's contracts once per chain id (running it again does nothing)."""
    from busanchain.platform.status import deploy_contracts

    try:
        addresses = deploy_contracts(_settings())
    except BusanchainError as exc:
        _fail(exc)
        return
    for name, address in addresses.items():
        console.print(f"{name}: {address}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from busanchain.db.engine import make_engine
    from busanchain.db.migrate import upgrade

    engine = make_engine(_settings().database_url)
    try:
        console.print(f"database at revision {upgrade(engine, revision)}")
    finally:
        engine.dispose()


@keys_app.command("rotate")
def keys_rotate(
    new_kek_file: Path = typer.Option(..., help="File with the new 64-hex-digit KEK."),
) -> None:
    """Re-wrap every encrypted row under a new key-encryption key, with progress."""
    from busanchain.platform.status import rotate_keys

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("re-encrypting / 재암호화", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            count = rotate_keys(_settings(), new_kek_file, report)
        except BusanchainError as exc:
            _fail(exc)
            return
    console.print(f"{count} rows re-encrypted; now point BUSANCHAIN_KEK_FILE at {new_kek_file}")


@contracts_app.command("build")
def contracts_build(
    check: bool = typer.Option(False, help="Only check that artifacts are current."),
) -> None:
    """Compile contracts/ with the pinned solc-js into src/busanchain/chain/artifacts."""
    from busanchain.chain.artifacts import build_artifacts

    result = build_artifacts(_settings().root, check=check)
    sys.stdout.write(result.stdout)
    raise typer.Exit(code=result.returncode)


def main() -> None:
    """Console-script entry point."""
    app()
