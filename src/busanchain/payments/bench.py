"""`busanchain bench payments`: relayed, batched payments through the public HTTP API.

A private platform (own anvil with 1 s blocks, own SQLite database, uvicorn on loopback, the
relayer loop) serves many simulated citizens, each logged in with its own session, paying
with POST /api/payments for S seconds. Latency runs from the request until the payment is
confirmed on chain (the 200 answer, or polling the receipt). Then every acknowledged payment
is looked up by its order reference among the chain's `Paid` events (lost, duplicated). The
baseline, on the same node in the same run, is one signed PolicyVoucher.pay transaction per
payment. A cProfile of the accept path names the bottleneck.
"""

from __future__ import annotations

import cProfile
import multiprocessing
import pstats
import queue
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_utils import keccak

from busanchain.accounts.service import account_service_for
from busanchain.chain.client import ChainClient
from busanchain.chain.signing import signer_from_key
from busanchain.config import Settings
from busanchain.deployment.service import DeploymentService
from busanchain.domain.errors import ConfigurationError
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.merchants.tables import MerchantRecord
from busanchain.outbox.service import OutboxService, raise_for_outcome
from busanchain.payments.relayer import PAID_TOPIC, run_relayer
from busanchain.payments.service import PaymentService, PayRequest, order_reference
from busanchain.platform.benchkit import AppFactory
from busanchain.platform.benchkit import noop_progress as _noop
from busanchain.platform.benchkit import private_platform as _platform
from busanchain.platform.benchkit import serve as _serve
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs.tables import ProgramRecord
from busanchain.vouchers.contracts import VoucherChain

Progress = Callable[[str, int, int], None]
PASSWORD = "bench password 1234"  # noqa: S105 (simulated citizens on a private node)
PROGRAM = 1
GRANT = 10_000_000
MERCHANTS = 5
PROFILED = 100
LOAD_PROCESSES = 2  # the load generator runs outside the server's process (its own GILs)


def _execute(chain: VoucherChain, contract: Any, fn: str, args: list[Any]) -> None:
    outcome = chain.outbox.execute(
        signer=operator_signer(chain.context.settings),
        intent="bench",
        to=contract.address,
        data=chain.calldata(contract, fn, args),
        timeout_s=60,
    )
    raise_for_outcome(outcome)


def _setup(
    context: PlatformContext, citizens: int, baseline_payers: list[str], progress: Progress
) -> tuple[list[str], list[str]]:
    """Contracts, a program, registered merchants, citizens with vouchers: (codes, usernames)."""
    operator = operator_signer(context.settings)
    DeploymentService(context, OutboxService(context)).deploy_all(operator)
    chain = VoucherChain(context)
    payers = citizens + len(baseline_payers) + 1  # + the profiled citizen
    budget = GRANT * payers
    voucher = chain.addresses["PolicyVoucher"]
    _execute(chain, chain.token, "mint", [operator.address, budget, secrets.token_bytes(32)])
    _execute(chain, chain.token, "approve", [voucher, budget])
    now = chain.chain_time()
    params: tuple[Any, ...] = (budget, 0, 0, 0, now - 60, now + 86_400 * 30, [], [], [])
    _execute(chain, chain.voucher, "createProgram", [PROGRAM, params])
    with context.unit_of_work() as session:
        session.add(
            ProgramRecord(
                id=PROGRAM,
                kind="youth",
                name_ko="벤치 지원금",
                name_en="Bench allowance",
                budget=budget,
                per_person_amount=0,
                starts_at=datetime.fromtimestamp(now - 60, UTC),
                expires_at=datetime.fromtimestamp(now + 86_400 * 30, UTC),
                state="live",
            )
        )
    accounts, keys = account_service_for(context), key_service_for(context)
    codes = []
    for i in range(MERCHANTS):
        owner = accounts.create_user(f"benchshop{i}", PASSWORD, [Role.MERCHANT])
        address = keys.custodial_address(owner.id)
        assert address is not None
        digest = keccak(text=f"bench-biz-{i}")
        _execute(chain, chain.registry, "register", [address, digest, 5411, 26350])
        code = f"BS-BENCH{i}"
        with context.unit_of_work() as session:
            session.add(
                MerchantRecord(
                    code=code,
                    owner_user_id=owner.id,
                    shop_name_ko=f"벤치 가게 {i}",
                    business_number_hash="0x" + digest.hex(),
                    business_number_tail="000",
                    mcc=5411,
                    district=26350,
                    wallet_address=address,
                    status="active",
                )
            )
        codes.append(code)
    names, addresses = [], list(baseline_payers)
    for i in range(citizens):
        user = accounts.create_user(f"benchcitizen{i}", PASSWORD, [Role.CITIZEN])
        address = keys.custodial_address(user.id)
        assert address is not None
        names.append(f"benchcitizen{i}")
        addresses.append(address)
        progress("citizens", i + 1, citizens)
    for start in range(0, len(addresses), 200):
        part = addresses[start : start + 200]
        _execute(chain, chain.voucher, "grantBatch", [PROGRAM, part, [GRANT] * len(part)])
    return codes, names


class _Load:
    """Concurrent citizens paying for a fixed time; latencies until confirmed on chain."""

    def __init__(self, url: str, names: list[str], codes: list[str]) -> None:
        self.url, self.names, self.codes = url, names, codes
        self.latencies: list[float] = []
        self.acknowledged: list[dict[str, Any]] = []
        self.errors: Counter[int] = Counter()
        self._lock = threading.Lock()

    def login(self, name: str) -> tuple[httpx.Client, dict[str, str]]:
        client = httpx.Client(base_url=self.url, timeout=60)
        answer = client.post("/api/accounts/login", json={"login": name, "password": PASSWORD})
        return client, {"X-CSRF-Token": answer.json()["csrf_token"]}

    def worker(self, sessions: list[tuple[httpx.Client, dict[str, str]]], until: float) -> None:
        """Pay without waiting for confirmation (open loop); confirmation times come later."""
        i = 0
        while time.monotonic() < until:
            client, csrf = sessions[i % len(sessions)]
            body = {
                "program_id": PROGRAM,
                "merchant_code": self.codes[i % len(self.codes)],
                "amount": 1 + i % 5_000,
            }
            i += 1
            started = time.time()
            response = client.post(
                "/api/payments?wait=0",
                json=body,
                headers=csrf | {"Idempotency-Key": f"bench-{secrets.token_hex(10)}"},
            )
            if response.status_code not in (200, 202):
                with self._lock:
                    self.errors[response.status_code] += 1
                continue
            payment = response.json()["payment"]
            with self._lock:
                self.acknowledged.append(payment | {"started": started})

    def confirmations(self, context: PlatformContext, timeout_s: float) -> dict[int, Any]:
        """Wait until every acknowledged payment is settled; id -> (state, confirmed_at)."""
        from sqlalchemy import select

        from busanchain.payments.tables import PaymentRecord

        ids = [int(p["id"]) for p in self.acknowledged]
        deadline = time.monotonic() + timeout_s
        while True:
            with context.unit_of_work() as session:
                rows = session.execute(
                    select(PaymentRecord.id, PaymentRecord.state, PaymentRecord.confirmed_at)
                ).all()
            found = {int(r[0]): (r[1], r[2]) for r in rows}
            open_ = [i for i in ids if found.get(i, ("pending",))[0] in ("pending", "submitted")]
            if not open_ or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


def _load_process(
    url: str,
    names: list[str],
    codes: list[str],
    threads: int,
    seconds: float,
    go: Any,
    results: Any,
) -> None:
    """One load-generator process: log in, wait for `go`, pay for `seconds`, report back."""
    load = _Load(url, names, codes)
    sessions = [load.login(n) for n in names]
    groups = [sessions[i::threads] or [sessions[i % len(sessions)]] for i in range(threads)]
    results.put(("ready", None))
    go.wait()
    cpu = time.process_time()
    until = time.monotonic() + seconds
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(load.worker, g, until) for g in groups]:
            future.result()
    cpu = time.process_time() - cpu
    for client, _ in sessions:
        client.close()
    results.put(("done", (load.acknowledged, dict(load.errors), cpu)))


def _run_load(
    url: str,
    names: list[str],
    codes: list[str],
    concurrency: int,
    seconds: float,
    progress: Progress,
) -> tuple[_Load, float, float, float]:
    """Run the load in LOAD_PROCESSES processes: merged results, start (monotonic), CPU
    seconds of the load generator and of this (the server's) process while paying."""
    spawn = multiprocessing.get_context("spawn")
    go, results = spawn.Event(), spawn.Queue()
    count = max(1, min(LOAD_PROCESSES, len(names)))
    workers = [
        spawn.Process(
            target=_load_process,
            args=(url, names[i::count], codes, max(1, concurrency // count), seconds, go, results),
            daemon=True,
        )
        for i in range(count)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        kind, _payload = results.get(timeout=300)
        assert kind == "ready"
    started, server_cpu = time.monotonic(), time.process_time()
    go.set()
    merged, cpu = _Load(url, names, codes), 0.0
    done = 0
    while done < count:
        progress("payments", min(int(time.monotonic() - started), int(seconds)), int(seconds))
        try:
            kind, payload = results.get(timeout=0.5)
        except queue.Empty:  # still paying
            continue
        acknowledged, errors, used = payload
        merged.acknowledged.extend(acknowledged)
        merged.errors.update(errors)
        cpu += used
        done += 1
    server_cpu = time.process_time() - server_cpu
    for worker in workers:
        worker.join(timeout=30)
    return merged, started, cpu, server_cpu


def _paid_refs(client: ChainClient, voucher: str) -> Counter[str]:
    logs = client.request(
        "eth_getLogs",
        [{"address": voucher, "fromBlock": "0x0", "toBlock": "latest", "topics": [PAID_TOPIC]}],
    )
    return Counter("0x" + lg["data"][130:194] for lg in logs)


def _baseline(
    context: PlatformContext, keys: list[Any], code_address: str, seconds: float
) -> float:
    """One signed PolicyVoucher.pay per payment, sent by the payers themselves; per second."""
    chain = VoucherChain(context)
    client = chain.outbox.client
    chain_id, fees = client.chain_id(), client.fee_params()
    nonces = {k.address: client.nonce(k.address) for k in keys}
    hashes: list[str] = []
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        key = keys[i % len(keys)]
        data = chain.calldata(
            chain.voucher, "pay", [PROGRAM, code_address, 1, keccak(i.to_bytes(8))]
        )
        tx = {
            "type": 2,
            "chainId": chain_id,
            "nonce": nonces[key.address],
            "gas": 300_000,
            "maxFeePerGas": fees.max_fee_per_gas * 4,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "to": chain.voucher.address,
            "value": 0,
            "data": data,
        }
        nonces[key.address] += 1
        signed = signer_from_key("0x" + key.key.hex().removeprefix("0x")).sign_transaction(tx)
        client.send_raw(signed.raw)
        hashes.append(signed.hash)
        i += 1
    for tx_hash in hashes:
        while client.receipt(tx_hash) is None:
            time.sleep(0.02)
    return len(hashes) / (time.perf_counter() - started)


def _profile_accept(context: PlatformContext, names: list[str], code: str) -> str:
    """cProfile of the accept path (PaymentService.pay) run in-process; the top entries."""
    accounts = account_service_for(context)
    user = accounts.create_user("benchprofiled", PASSWORD, [Role.CITIZEN])
    address = key_service_for(context).custodial_address(user.id)
    assert address is not None
    chain = VoucherChain(context)
    _execute(chain, chain.voucher, "grantBatch", [PROGRAM, [address], [GRANT]])
    service = PaymentService(context)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(PROFILED):
        service.pay(user.id, PayRequest(PROGRAM, code, 1), f"prof-{secrets.token_hex(8)}", 0)
    profile.disable()
    per_call_ms = 1000 * (time.perf_counter() - started) / PROFILED
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in stats.values()) or 1.0
    cumulative = sorted(stats.items(), key=lambda item: item[1][3], reverse=True)
    ours = [
        f"{Path(key[0]).name}:{key[2]} {100 * row[3] / total:.0f}%"
        for key, row in cumulative
        if "busanchain" in key[0] or "web3" in key[0] or "sqlalchemy/orm/session" in key[0]
    ][:8]
    return (
        f"accept path (PaymentService.pay, cProfile): {per_call_ms:.1f} ms of one core per "
        f"payment, so one Python process tops out near {1000 / per_call_ms:.0f}/s before HTTP, "
        f"sessions and the relayer take their share; cumulative: " + ", ".join(ours)
    )


def run_payments_bench(
    seconds: float,
    citizens: int = 200,
    concurrency: int = 64,
    progress: Progress | None = None,
    app_factory: AppFactory | None = None,
) -> dict[str, Any]:
    """Measure payments/s, latency to confirmation, lost and duplicated, vs. the baseline.

    `app_factory` is `busanchain.web.app.create_app` (the CLI passes it: the public API is
    served exactly as `busanchain up` serves it).
    """
    if app_factory is None:
        raise ConfigurationError(
            "The payments bench needs the web app factory (run `busanchain bench payments`).",
            "결제 벤치마크에는 웹 앱 팩토리가 필요합니다(`busanchain bench payments`로 실행).",
        )
    report = progress or _noop
    root = Settings.from_env().root
    baseline_keys = [Account.create() for _ in range(20)]
    with _platform(root) as (context, node):
        client = ChainClient(node.config.rpc_url)
        for key in baseline_keys:
            client.request("anvil_setBalance", [key.address, hex(10**21)])
        codes, names = _setup(context, citizens, [k.address for k in baseline_keys], report)
        stop = threading.Event()
        relayer = threading.Thread(target=run_relayer, args=(context, stop), daemon=True)
        relayer.start()
        with _serve(context, app_factory) as url:
            load, started, load_cpu, server_cpu = _run_load(
                url, names, codes, concurrency, seconds, report
            )
            load_s = time.monotonic() - started
            settled = load.confirmations(context, 120)
            elapsed = _last_confirmation(settled) - (time.time() - (time.monotonic() - started))
        for payment in load.acknowledged:
            state, confirmed_at = settled.get(int(payment["id"]), ("pending", None))
            payment["state"] = state
            if state == "confirmed" and confirmed_at is not None:
                load.latencies.append(_ts(confirmed_at) - payment["started"])
        stop.set()
        relayer.join(timeout=30)
        chain = VoucherChain(context)
        refs = _paid_refs(client, chain.voucher.address)
        acked = [
            "0x" + order_reference(p["payer"], int(p["nonce"]), None).hex()
            for p in load.acknowledged
            if p["state"] == "confirmed"
        ]
        lost = sum(1 for ref in acked if refs[ref] == 0)
        duplicated = sum(1 for ref in acked if refs[ref] > 1)
        baseline = _baseline(context, baseline_keys, _wallet(context, codes[0]), min(seconds, 10))
        bottleneck = _profile_accept(context, names, codes[0])
    accepted = max(len(load.acknowledged), 1)
    bottleneck += (
        f"; under load: server process (HTTP + accept + relayer) used {server_cpu:.1f} CPU-s "
        f"in {load_s:.1f} s ({1000 * server_cpu / accepted:.1f} ms per accepted payment, "
        f"{100 * server_cpu / load_s:.0f}% of one core); load generator ({LOAD_PROCESSES} "
        f"separate processes) used {load_cpu:.1f} CPU-s ({100 * load_cpu / load_s:.0f}% of one "
        f"core) on a 2-core machine shared with other work"
    )
    confirmed = len(load.latencies)
    per_s = confirmed / elapsed if elapsed else 0.0
    lat = sorted(load.latencies)
    return {
        "benchmark": "payments_http_to_chain",
        "seconds": round(elapsed, 2),
        "citizens": citizens,
        "concurrency": concurrency,
        "payments_confirmed": confirmed,
        "payments_failed": sum(1 for p in load.acknowledged if p["state"] == "failed"),
        "http_errors": dict(load.errors),
        "payments_per_s": round(per_s, 1),
        "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1) if lat else None,
        "lost": lost,
        "duplicated": duplicated,
        "baseline_payments_per_s": round(baseline, 1),
        "ratio": round(per_s / baseline, 2) if baseline else None,
        "node": "anvil, --block-time 1, gas limit 1e9",
        "database": "sqlite",
        "bottleneck": bottleneck,
    }


def _ts(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _last_confirmation(settled: dict[int, Any]) -> float:
    times = [_ts(c) for state, c in settled.values() if state == "confirmed" and c is not None]
    return max(times) if times else time.time()


def _wallet(context: PlatformContext, code: str) -> str:
    with context.unit_of_work() as session:
        from sqlalchemy import select

        wallet = session.scalar(
            select(MerchantRecord.wallet_address).where(MerchantRecord.code == code)
        )
    assert wallet is not None
    return str(wallet)
