"""`busanchain bench disburse`: from a CSV of N residents to every recipient able to spend.

Measured on a private automining anvil (`--gas-limit 1000000000`, base fee 0) and a
private SQLite database, started by the bench:

- `seconds`: read the CSV, check and store every row (hash, seal, enroll), build the Merkle
  tree, store the grants, sign `postRound` into the outbox, broadcast and wait for the
  receipt. From then on every recipient can claim on first use. A random sample of
  recipients is then checked with `eth_call` of `claim` (and one real claim), untimed.
- `baseline_seconds`: the usual airdrop, batch grants of 500 recipients per transaction
  (`grantBatch`, through the same outbox), end to end from its own CSV on the same node in
  the same run, measured on `baseline_recipients` and extrapolated linearly to N.

Recipients use the CSV `wallet` column (fresh addresses): creating a custodial key per
recipient is measured separately (`custodial_keys_per_s`) on 1,000 keys.
"""

from __future__ import annotations

import csv
import os
import random
import secrets
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from busanchain.accounts.tables import UserRecord
from busanchain.chain.node import AnvilConfig, AnvilSupervisor, find_anvil_binary
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from busanchain.db.migrate import upgrade
from busanchain.deployment.service import DeploymentService
from busanchain.keys.service import key_service_for
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs import disburse
from busanchain.programs.disburse import Disburser, claim_ticket
from busanchain.programs.importer import ResidentImporter, checksum_address
from busanchain.programs.service import ProgramService
from busanchain.programs.tables import GrantRecord
from busanchain.vouchers.contracts import VoucherChain

Progress = Callable[[str, int, int], None]
AMOUNT = 100_000
BASELINE_BATCH = 500
SAMPLE = 100
KEY_SAMPLE = 1_000
SQLITE_CACHE_KB = 512 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _large_cache(dbapi_conn: Any, _record: Any) -> None:
    """A 512 MB page cache: a million random 64-hex-digit keys do not fit SQLite's 2 MB."""
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
    cursor.close()


def write_csv(path: Path, count: int, offset: int = 0) -> None:
    """N synthetic, valid youth-allowance rows with fresh wallet addresses."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resident_id", "name", "phone", "birth_date", "district", "wallet"])
        base = date(1995, 1, 1)
        for n in range(offset, offset + count):
            born = base + timedelta(days=n % 3650)
            digit = 1 if born.year < 2000 else 3
            serial = (n // 3650) % 1_000_000
            address = checksum_address(os.urandom(20).hex())
            writer.writerow(
                [
                    f"{born:%y%m%d}-{digit}{serial:06d}",
                    f"시민{n}",
                    f"010-{n // 10_000 % 10_000:04d}-{n % 10_000:04d}",
                    born.isoformat(),
                    "26350",
                    address,
                ]
            )


class _Stages:
    """Records when each progress stage is first seen; a stage lasts until the next one."""

    def __init__(self, forward: Progress | None) -> None:
        self.forward = forward
        self.starts: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.starts.setdefault(stage, time.perf_counter())
        if self.forward is not None:
            self.forward(stage, done, total)

    def spans(self, end: float) -> dict[str, float]:
        """Seconds per stage, in order."""
        items = sorted(self.starts.items(), key=lambda kv: kv[1])
        ends = [t for _s, t in items[1:]] + [end]
        return {
            s.replace(" ", "_") + "_s": round(e - t, 3)
            for (s, t), e in zip(items, ends, strict=True)
        }


def _program(context: PlatformContext, budget: int, name: str) -> int:
    now = datetime.now(UTC)
    fields = {
        "name_ko": name,
        "name_en": name,
        "kind": "youth",
        "budget": budget,
        "per_person_amount": AMOUNT,
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "expires_at": (now + timedelta(days=365)).isoformat(),
    }
    return ProgramService(context).create(None, fields).id


def _end_to_end(
    context: PlatformContext, csv_path: Path, mode: str, stages: _Stages
) -> tuple[int, dict[str, float]]:
    program_id = _program(context, AMOUNT * 10_000_000, f"bench-{mode}")
    started = time.perf_counter()
    content = csv_path.read_bytes()
    imported = ResidentImporter(context).import_file(
        program_id, csv_path.name, content, progress=stages
    )
    after_import = time.perf_counter()
    view = Disburser(context).run_round(program_id, None, mode, progress=stages)
    finished = time.perf_counter()
    if view.state != "done" or imported.rows != view.recipients:
        raise RuntimeError(f"bench round did not finish: {view.as_dict()}")
    return program_id, {
        "end": finished,
        "seconds": finished - started,
        "import_s": after_import - started,
        "round_s": finished - after_import,
    }


def _verify_sample(context: PlatformContext, program_id: int, sample: int) -> dict[str, Any]:
    """eth_call `claim` for a random sample, and one real claim; all must succeed."""
    chain = VoucherChain(context)
    with context.unit_of_work() as session:
        addresses = list(
            session.scalars(select(GrantRecord.address).where(GrantRecord.program_id == program_id))
        )
    picked = random.sample(addresses, min(sample, len(addresses)))
    ok = 0
    for address in picked:
        with context.unit_of_work() as session:
            ticket = claim_ticket(session, program_id, address)[0]
        data = chain.calldata(
            chain.voucher,
            "claim",
            [program_id, ticket.round_id, address, ticket.amount, ticket.proof],
        )
        chain.outbox.client.call({"to": chain.voucher.address, "data": "0x" + data.hex()})
        ok += 1
    first = picked[0]
    with context.unit_of_work() as session:
        ticket = claim_ticket(session, program_id, first)[0]
    outcome = OutboxService(context).execute(
        signer=operator_signer(context.settings),
        intent="bench.claim",
        to=chain.voucher.address,
        data=chain.calldata(
            chain.voucher,
            "claim",
            [program_id, ticket.round_id, first, ticket.amount, ticket.proof],
        ),
    )
    return {
        "sample_claims_checked": ok,
        "real_claim_gas": outcome.gas_used,
        "real_claim_balance": chain.voucher_balance(first, program_id),
    }


def _custodial_key_rate(context: PlatformContext, count: int) -> float:
    keys = key_service_for(context)
    started = time.perf_counter()
    with context.unit_of_work() as session:
        for _ in range(count):
            user = UserRecord(username=f"k{secrets.token_hex(8)}", password_hash="!bench")  # noqa: S106
            session.add(user)
            session.flush()
            keys.create_custodial_key(session, user.id)
    return count / (time.perf_counter() - started)


def run_disburse_bench(
    settings_or_context: Settings | PlatformContext,
    recipients: int,
    baseline_recipients: int = 20_000,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Measure Merkle disbursement to N recipients vs. 500-per-tx batch grants (see module)."""
    base = (
        settings_or_context.settings
        if isinstance(settings_or_context, PlatformContext)
        else settings_or_context
    )
    report = progress or (lambda _s, _d, _t: None)
    with tempfile.TemporaryDirectory(prefix="busanchain-disburse-") as tmp:
        root = Path(tmp)
        node = AnvilSupervisor(
            AnvilConfig(
                binary=find_anvil_binary(base.node_modules),
                state_dir=root / "chain",
                port=_free_port(),
                block_time=None,
                gas_limit=1_000_000_000,
                snapshot_interval_s=10**9,
            )
        )
        node.start(watch=False)
        settings = base.with_overrides(
            data_dir=root / "var",
            database_url=f"sqlite:///{root / 'bench.sqlite3'}",
            rpc_url=node.config.rpc_url,
            operator_key=ANVIL_DEFAULT_OPERATOR_KEY,
            kek_env=secrets.token_hex(32),
            extra={},
        )
        context = PlatformContext.create(settings)
        event.listen(context.engine, "connect", _large_cache)
        try:
            upgrade(context.engine)
            DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(settings))
            report("write csv", 0, recipients + baseline_recipients)
            main_csv, base_csv = root / "residents.csv", root / "baseline.csv"
            write_csv(main_csv, recipients)
            write_csv(base_csv, baseline_recipients, offset=recipients)
            report("write csv", recipients + baseline_recipients, recipients + baseline_recipients)
            stages = _Stages(report)
            program_id, merkle = _end_to_end(context, main_csv, "merkle", stages)
            verified = _verify_sample(context, program_id, SAMPLE)
            breakdown = stages.spans(merkle["end"])
            old_chunk = disburse.CHUNK
            disburse.CHUNK = BASELINE_BATCH
            try:
                base_stages = _Stages(lambda s, d, t: report(f"baseline {s}", d, t))
                _pid, baseline = _end_to_end(context, base_csv, "direct", base_stages)
            finally:
                disburse.CHUNK = old_chunk
            key_rate = _custodial_key_rate(context, KEY_SAMPLE)
        finally:
            context.close()
            node.stop(snapshot=False)
    per_recipient = baseline["seconds"] / baseline_recipients
    return {
        "benchmark": "disburse_csv_to_spendable",
        "recipients": recipients,
        "seconds": round(merkle["seconds"], 3),
        "baseline_seconds": round(per_recipient * recipients, 3),
        "baseline_measured_recipients": baseline_recipients,
        "baseline_measured_seconds": round(baseline["seconds"], 3),
        "baseline_batch": BASELINE_BATCH,
        "speedup": round(per_recipient * recipients / merkle["seconds"], 2),
        "breakdown": {
            "import_s": round(merkle["import_s"], 3),
            "round_s": round(merkle["round_s"], 3),
            **breakdown,
            "baseline_import_s": round(baseline["import_s"], 3),
            "baseline_grant_batches_s": round(baseline["round_s"], 3),
            "custodial_keys_per_s": round(key_rate, 1),
        },
        "verification": verified,
        "machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        "node": "anvil, automine, --gas-limit 1000000000, base fee 0",
        "database": f"sqlite (WAL, synchronous=FULL, cache {SQLITE_CACHE_KB // 1024} MB)",
    }
