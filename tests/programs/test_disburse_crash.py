"""kill -9 during a disbursement: the process doing it, and the node. 0 lost, 0 duplicated.

Process: `python -m busanchain.cli.programs disburse ID --mode direct` SIGKILLs itself at a
named crash point (after the round commit, between grant batches, or before a broadcast);
running the same command again resumes. Node: the supervised anvil is SIGKILLed while the
round is broadcasting; it restarts from its last snapshot, the reconciler replays what the
chain lost and the round is resumed. Either way, every recipient's voucher balance must
equal its grant exactly, and the operator's nonce must equal the number of outbox entries.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from busanchain.chain.client import ChainClient
from busanchain.chain.node import AnvilSupervisor
from busanchain.config import Settings
from busanchain.db.migrate import upgrade
from busanchain.deployment.service import DeploymentService
from busanchain.domain.errors import BusanchainError
from busanchain.outbox.service import OutboxService
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.platform.runtime import PlatformRuntime
from busanchain.programs.disburse import Disburser
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.repository import pending_enrollments
from busanchain.programs.service import ProgramService
from busanchain.programs.tables import EnrollmentRecord
from busanchain.vouchers.contracts import VoucherChain
from tests.conftest import REPO_ROOT, start_anvil
from tests.crash.helpers import CRASH_SEEDS, crash_settings, platform_env, wait_until
from tests.programs.conftest import csv_bytes, program_fields, resident_rows

pytestmark = pytest.mark.crash
POINTS = ("after_round_commit", "between_chunks", "before_broadcast")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[AnvilSupervisor]:
    supervisor = start_anvil(tmp_path_factory.mktemp("disburse-crash-node"), anvil_binary)
    yield supervisor
    supervisor.stop(snapshot=False)


def _enroll(context: PlatformContext, rng: random.Random, seed: int) -> tuple[int, int]:
    """A live program with 10-30 residents (half custodial, half linked wallets)."""
    program = ProgramService(context).create(None, program_fields())
    count = rng.randint(10, 30)
    rows = resident_rows(count, seed=seed, wallets=True)
    for row in rows:
        row["amount"] = str(rng.randint(1, 300_000))
        if rng.random() < 0.5:
            row["wallet"] = ""
    ResidentImporter(context).import_file(program.id, "r.csv", csv_bytes(rows))
    return program.id, count


def _expected(context: PlatformContext, program_id: int) -> dict[str, int]:
    """address -> amount due, from the enrollments (before any round)."""
    with context.unit_of_work() as session:
        return {
            address: amount for _e, _r, amount, address in pending_enrollments(session, program_id)
        }


def _check_chain(
    context: PlatformContext, program_id: int, expected: dict[str, int], nonce_before: int
) -> None:
    chain = VoucherChain(context)
    balances = {a: chain.voucher_balance(a, program_id) for a in expected}
    assert balances == expected  # 0 lost, 0 duplicated
    locked, unspent, unclaimed, unallocated = chain.conservation(program_id)
    assert unspent == sum(expected.values()) and unclaimed == 0
    assert locked == unspent + unallocated
    with context.unit_of_work() as session:
        entries = int(session.scalar(select(func.count()).select_from(OutboxEntry)) or 0)
        waiting = session.scalar(
            select(func.count())
            .select_from(EnrollmentRecord)
            .where(EnrollmentRecord.round_pk.is_(None))
        )
    assert waiting == 0
    client = ChainClient(context.settings.node_rpc_url)
    operator = operator_signer(context.settings).address
    wait_until(lambda: client.nonce(operator) == nonce_before + entries, what="nonces")
    assert client.nonce(operator) == nonce_before + entries  # one transaction per entry


def _cli(
    settings: Settings, program_id: int, chunk: int, **crash: str
) -> subprocess.CompletedProcess[bytes]:
    env = platform_env(settings, grant_chunk=str(chunk), **crash)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "busanchain.cli.programs",
            "disburse",
            str(program_id),
            "--mode",
            "direct",
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("seed", range(CRASH_SEEDS))
def test_kill_disbursing_process(
    seed: int, tmp_path: Path, database_url: str, node: AnvilSupervisor
) -> None:
    rng = random.Random(seed)
    settings = crash_settings(tmp_path, database_url, rpc_url=node.config.rpc_url)
    context = PlatformContext.create(settings)
    nonce_before = ChainClient(settings.node_rpc_url).nonce(operator_signer(settings).address)
    try:
        upgrade(context.engine)
        DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(settings))
        program_id, count = _enroll(context, rng, seed)
        expected = _expected(context, program_id)
        chunk = rng.randint(2, 7)
        chunks = -(-count // chunk)
        point = POINTS[seed % len(POINTS)]
        skip = rng.randrange(chunks) if point != "after_round_commit" else 0
        crashed = _cli(settings, program_id, chunk, crash_point=point, crash_skip=str(skip))
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]
        resumed = _cli(settings, program_id, chunk)
        assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
        assert b'"state": "done"' in resumed.stdout
        _check_chain(context, program_id, expected, nonce_before)
        again = _cli(settings, program_id, chunk)  # nothing left: refused, nothing granted
        assert again.returncode == 2
        _check_chain(context, program_id, expected, nonce_before)
    finally:
        context.close()


@pytest.mark.parametrize("seed", range(CRASH_SEEDS))
def test_kill_node_during_disbursement(seed: int, tmp_path: Path, database_url: str) -> None:
    rng = random.Random(seed)
    settings = crash_settings(
        tmp_path,
        database_url,
        snapshot_interval_s=rng.choice([0.2, 0.5, 2.0]),
        extra={"BUSANCHAIN_GRANT_CHUNK": str(rng.randint(2, 5))},
    )
    runtime = PlatformRuntime(settings)
    runtime.start()
    try:
        context = runtime.context
        program_id, _count = _enroll(context, rng, seed)
        expected = _expected(context, program_id)
        disburser = Disburser(context)
        errors: list[BusanchainError] = []

        def run() -> None:
            try:
                disburser.run_round(program_id, None, "direct")
            except BusanchainError as exc:  # the node vanished mid-round
                errors.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        threading.Event().wait(rng.uniform(0.0, 0.3))
        assert runtime.node is not None
        os.kill(runtime.node.pid or 0, signal.SIGKILL)
        worker.join(timeout=120)
        wait_until(lambda: runtime.node is not None and runtime.node.restarts >= 1, what="restart")

        def finished() -> bool:
            again = Disburser(context)
            again.resume(program_id)
            with context.unit_of_work() as session:
                waiting = bool(pending_enrollments(session, program_id))
            if waiting:  # the node died before the round was committed
                again.run_round(program_id, None, "direct")
            rounds = again.rounds(program_id)
            return bool(rounds) and all(r.state == "done" for r in rounds)

        wait_until(finished, timeout_s=60, what="round resumed")
        chain = VoucherChain(context)
        wait_until(
            lambda: all(chain.voucher_balance(a, program_id) == v for a, v in expected.items()),
            timeout_s=60,
            what="balances restored",
        )
        _check_chain(context, program_id, expected, 0)
    finally:
        runtime.stop()
