"""kill -9 during a payment burst: every acknowledged payment is on chain exactly once.

Two faults. (1) The real `busanchain up` server SIGKILLs itself at a fault injection point:
right after a payment and its Idempotency-Key commit (`after_payment_commit`), or right after
a batch's outbox entry and its rows commit, before the broadcast (`after_batch_commit`).
The client retries every key against a restarted server. (2) The supervised anvil node is
SIGKILLed mid-burst and restarts from its last snapshot; the reconciler replays what the
chain lost. Then every acknowledged payment must have exactly one `Paid` event, found by its
order reference (unique per payer and nonce), and there must be no other `Paid` event.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from busanchain.chain.client import ChainClient
from busanchain.chain.node import AnvilSupervisor
from busanchain.config import Settings
from busanchain.db.migrate import upgrade
from busanchain.deployment.service import DeploymentService
from busanchain.outbox.service import OutboxService
from busanchain.payments.relayer import PAID_TOPIC
from busanchain.payments.service import order_reference
from busanchain.payments.tables import PaymentRecord
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.platform.runtime import PlatformRuntime
from busanchain.vouchers.contracts import VoucherChain
from busanchain.web.app import create_app
from tests.accounts.conftest import PASSWORD
from tests.conftest import REPO_ROOT, start_anvil
from tests.crash.helpers import CRASH_SEEDS, crash_settings, platform_env, wait_until
from tests.payments.conftest import World
from tests.web.support import serve

pytestmark = pytest.mark.crash

# Each seed restarts a real server or node (about 30-60 s): the payment burst runs fewer seeds
# than the 20 the disbursement crash tests need (BUSANCHAIN_PAYMENT_CRASH_SEEDS raises it).
PAYMENT_SEEDS = int(os.environ.get("BUSANCHAIN_PAYMENT_CRASH_SEEDS", str(min(CRASH_SEEDS, 5))))
CITIZENS = 4
GRANT = 1_000_000
POINTS = ("after_payment_commit", "after_batch_commit")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[AnvilSupervisor]:
    supervisor = start_anvil(tmp_path_factory.mktemp("pay-crash-node"), anvil_binary)
    yield supervisor
    supervisor.stop(snapshot=False)


def _prepare(context: PlatformContext, deploy: bool) -> tuple[int, str, list[str]]:
    """A program, a registered merchant, funded citizens: (program id, code, usernames)."""
    if deploy:
        DeploymentService(context, OutboxService(context)).deploy_all(
            operator_signer(context.settings)
        )
    world = World(context, VoucherChain(context))
    try:
        pid = world.program(budget=CITIZENS * GRANT)
        _merchant, code = world.merchant("shop")
        names = []
        for i in range(CITIZENS):
            citizen = world.citizen(f"citizen{i}")
            world.grant(pid, citizen.address, GRANT)
            names.append(f"citizen{i}")
        return pid, code, names
    finally:
        world.close()


class Burst:
    """Payments of several citizens, each with an Idempotency-Key, sent concurrently."""

    def __init__(self, url: str, names: list[str], pid: int, code: str, rng: random.Random):
        self.url, self.names, self.pid, self.code = url, names, pid, code
        self.requests = [
            (names[i % len(names)], f"burst-{secrets.token_hex(8)}", rng.randint(1, 5_000))
            for i in range(rng.randint(30, 60))
        ]
        self.answers: dict[str, dict[str, Any]] = {}

    def _client(self, name: str) -> tuple[httpx.Client, dict[str, str]] | None:
        client = httpx.Client(base_url=self.url, timeout=30)
        try:
            login = client.post("/api/accounts/login", json={"login": name, "password": PASSWORD})
        except httpx.TransportError:
            return None
        if login.status_code != 200:
            return None
        return client, {"X-CSRF-Token": login.json()["csrf_token"]}

    def send(self, concurrency: int = 8) -> list[int | None]:
        """Send every request not yet acknowledged; the status codes (None: no answer)."""
        clients = {name: self._client(name) for name in self.names}

        def one(request: tuple[str, str, int]) -> int | None:
            name, key, amount = request
            session = clients[name]
            if session is None:
                return None
            client, csrf = session
            try:
                response = client.post(
                    "/api/payments?wait=0",
                    json={"program_id": self.pid, "merchant_code": self.code, "amount": amount},
                    headers=csrf | {"Idempotency-Key": key},
                )
            except httpx.TransportError:
                return None
            if response.status_code in (200, 202):
                self.answers[key] = response.json()["payment"]
            return response.status_code

        todo = [r for r in self.requests if r[1] not in self.answers]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            codes = list(pool.map(one, todo))
        for session in clients.values():
            if session is not None:
                session[0].close()
        return codes


def _paid_refs(client: ChainClient, voucher: str) -> Counter[str]:
    logs = client.request(
        "eth_getLogs",
        [{"address": voucher, "fromBlock": "0x0", "toBlock": "latest", "topics": [PAID_TOPIC]}],
    )
    return Counter("0x" + lg["data"][130:194] for lg in logs)


def _all_settled(context: PlatformContext) -> bool:
    with context.unit_of_work() as session:
        states = session.scalars(select(PaymentRecord.state)).all()
    return bool(states) and all(s == "confirmed" for s in states)


def _check_exactly_once(context: PlatformContext, burst: Burst) -> None:
    assert len(burst.answers) == len(burst.requests)  # every key acknowledged in the end
    wait_until(lambda: _all_settled(context), timeout_s=90, what="all payments confirmed")
    chain = VoucherChain(context)
    refs = _paid_refs(chain.outbox.client, chain.voucher.address)
    acknowledged = {
        "0x" + order_reference(p["payer"], int(p["nonce"]), None).hex()
        for p in burst.answers.values()
    }
    assert len(acknowledged) == len(burst.requests)  # one payment per key
    assert all(refs[ref] == 1 for ref in acknowledged), "lost or duplicated payments"
    assert set(refs) == acknowledged  # nothing executed that was not acknowledged
    with context.unit_of_work() as session:
        assert len(session.scalars(select(PaymentRecord.id)).all()) == len(burst.requests)


def _start_server(settings: Settings, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "busanchain", "up"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
        )

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early:\n{log.read_text()[-3000:]}")
        return httpx.get(f"{settings.web_url}/api/health", timeout=2).status_code == 200

    wait_until(healthy, timeout_s=60, what="server health")
    return proc


@pytest.mark.parametrize("seed", range(PAYMENT_SEEDS))
def test_kill_server_during_payment_burst(
    seed: int, tmp_path: Path, database_url: str, node: AnvilSupervisor
) -> None:
    rng = random.Random(seed)
    settings = crash_settings(tmp_path, database_url, rpc_url=node.config.rpc_url)
    context = PlatformContext.create(settings)
    try:
        upgrade(context.engine)
        pid, code, names = _prepare(context, deploy=True)
        point = POINTS[seed % len(POINTS)]
        skip = rng.randint(0, 10) if point == "after_payment_commit" else rng.randint(0, 2)
        env = platform_env(settings, crash_point=point, crash_skip=str(skip))
        log = tmp_path / "server.log"
        server = _start_server(settings, env, log)
        burst = Burst(settings.web_url, names, pid, code, rng)
        burst.send()
        server.wait(timeout=60)  # it must have killed itself at the injected point
        assert server.returncode == -signal.SIGKILL, log.read_text()[-2000:]

        server = _start_server(settings, platform_env(settings), log)
        try:
            for _ in range(5):
                burst.send()
                if len(burst.answers) == len(burst.requests):
                    break
            _check_exactly_once(context, burst)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    finally:
        context.close()


@pytest.mark.parametrize("seed", range(PAYMENT_SEEDS))
def test_kill_node_during_payment_burst(seed: int, tmp_path: Path, database_url: str) -> None:
    rng = random.Random(seed)
    settings = crash_settings(
        tmp_path, database_url, snapshot_interval_s=rng.choice([0.2, 0.5, 1.0])
    )
    runtime = PlatformRuntime(settings)
    runtime.start()
    try:
        pid, code, names = _prepare(runtime.context, deploy=False)
        with serve(create_app(runtime.context)) as url:
            burst = Burst(url, names, pid, code, rng)
            assert runtime.node is not None
            node_pid = runtime.node.pid
            assert node_pid, "the supervised node has no pid"
            killer = threading.Timer(rng.uniform(0.1, 1.5), os.kill, (node_pid, signal.SIGKILL))
            killer.start()
            burst.send()
            killer.join()
            for _ in range(10):
                if len(burst.answers) == len(burst.requests):
                    break
                wait_until(runtime.node.is_alive, timeout_s=30, what="node restarted")
                burst.send()
            wait_until(runtime.node.is_alive, timeout_s=30, what="node restarted")
            assert runtime.node.pid != node_pid  # the node really was killed and restarted
            _check_exactly_once(runtime.context, burst)
    finally:
        runtime.stop()
