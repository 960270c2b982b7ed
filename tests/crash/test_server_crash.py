"""kill -9 the web server between the outbox commit and the broadcast, then restart it.

The server is the real `busanchain up` process on an external chain (a test anvil). A fault
injection point makes it SIGKILL itself right after a transfer's outbox entry and
idempotency record are committed, before anything is broadcast. The client then retries
every request with its Idempotency-Key against a restarted server. On chain there must be
exactly one transfer per key: balances and the relayer's nonce prove it.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from busanchain.accounts.service import account_service_for
from busanchain.chain.client import ChainClient
from busanchain.chain.node import AnvilSupervisor
from busanchain.config import Settings
from busanchain.db.migrate import upgrade
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.outbox.service import OutboxService
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.token.service import TokenService
from tests.conftest import REPO_ROOT, start_anvil
from tests.crash.helpers import (
    CRASH_SEEDS,
    crash_settings,
    erc20_balance,
    platform_env,
    wait_until,
)

pytestmark = pytest.mark.crash
PASSWORD = "correct horse battery"
FUNDS = 10_000_000


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[AnvilSupervisor]:
    supervisor = start_anvil(tmp_path_factory.mktemp("crash-node"), anvil_binary)
    yield supervisor
    supervisor.stop(snapshot=False)


def _env(settings: Settings, crash_skip: int | None) -> dict[str, str]:
    if crash_skip is None:
        return platform_env(settings)
    return platform_env(settings, crash_point="after_outbox_commit", crash_skip=str(crash_skip))


def _start_server(settings: Settings, crash_skip: int | None, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "busanchain", "up"],
            env=_env(settings, crash_skip),
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


def _prepare(settings: Settings) -> tuple[str, str]:
    """Schema, contract, a funded citizen and a merchant; returns their addresses."""
    context = PlatformContext.create(settings)
    try:
        upgrade(context.engine)
        operator = operator_signer(settings)
        DeploymentService(context, OutboxService(context)).deploy_all(operator)
        accounts = account_service_for(context)
        citizen = accounts.create_user("citizen", PASSWORD, [Role.CITIZEN])
        merchant = accounts.create_user("merchant", PASSWORD, [Role.MERCHANT])
        keys = key_service_for(context)
        citizen_address = keys.custodial_address(citizen.id)
        merchant_address = keys.custodial_address(merchant.id)
        assert citizen_address and merchant_address
        token = TokenService(context)
        with context.unit_of_work() as session:
            entry = token.enqueue_issue(
                session,
                issuer=operator,
                to=citizen_address,
                amount=FUNDS,
                deposit_ref="funding",
                owner=None,
            )
        token.outbox.broadcast(entry.id)
        assert token.outbox.wait(entry.id).status == "confirmed"
        return citizen_address, merchant_address
    finally:
        context.close()


def _login(url: str) -> tuple[httpx.Client, dict[str, str]]:
    client = httpx.Client(base_url=url, timeout=30)
    answer = client.post("/api/accounts/login", json={"login": "citizen", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


def _send(client: httpx.Client, csrf: dict[str, str], key: str, body: dict[str, Any]) -> int | None:
    try:
        response = client.post(
            "/api/token/transfers", json=body, headers=csrf | {"Idempotency-Key": key}
        )
    except httpx.TransportError:
        return None  # the server died mid-request
    return response.status_code


def _outbox_count(settings: Settings) -> int:
    context = PlatformContext.create(settings)
    try:
        with context.unit_of_work() as session:
            return int(session.scalar(select(func.count()).select_from(OutboxEntry)) or 0)
    finally:
        context.close()


@pytest.mark.parametrize("seed", range(CRASH_SEEDS))
def test_kill_server_between_commit_and_broadcast(
    seed: int, tmp_path: Path, database_url: str, node: AnvilSupervisor
) -> None:
    rng = random.Random(seed)
    settings = crash_settings(tmp_path, database_url, rpc_url=node.config.rpc_url)
    chain = ChainClient(settings.node_rpc_url)
    operator = operator_signer(settings).address
    nonce_before = chain.nonce(operator)  # the node is shared by the seeds of this module
    citizen, merchant = _prepare(settings)
    token = _token_address(settings)
    transfers = [
        (f"seed{seed}-{uuid.uuid4().hex}", rng.randint(1, 9_999)) for _ in range(rng.randint(3, 8))
    ]
    crash_at = rng.randrange(len(transfers))
    log = tmp_path / "server.log"

    server = _start_server(settings, crash_at, log)
    client, csrf = _login(settings.web_url)
    results = [
        _send(client, csrf, key, {"to": merchant, "amount": amount}) for key, amount in transfers
    ]
    assert results[crash_at] is None, results  # the crash happened where it was injected
    server.wait(timeout=10)
    assert server.returncode == -signal.SIGKILL
    committed_before_restart = _outbox_count(settings)

    server = _start_server(settings, None, log)
    try:
        client, csrf = _login(settings.web_url)
        retried = [
            _send(client, csrf, key, {"to": merchant, "amount": amount})
            for key, amount in transfers
        ]
        assert all(code in (200, 202) for code in retried), retried
        expected = sum(amount for _, amount in transfers)
        wait_until(
            lambda: erc20_balance(chain, token, merchant) == expected, what="all transfers mined"
        )
        assert erc20_balance(chain, token, merchant) == expected  # 0 lost
        assert erc20_balance(chain, token, citizen) == FUNDS - expected  # 0 duplicated
        entries = _outbox_count(settings)
        assert entries == committed_before_restart + (len(transfers) - crash_at - 1)
        wait_until(lambda: chain.nonce(operator) == _expected_nonce(settings), what="nonces")
        assert chain.nonce(operator) == nonce_before + entries  # one nonce per outbox entry
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _token_address(settings: Settings) -> str:
    context = PlatformContext.create(settings)
    try:
        return TokenService(context).contract().address
    finally:
        context.close()


def _expected_nonce(settings: Settings) -> int:
    """The operator's on-chain nonce must equal its highest outbox nonce + 1."""
    context = PlatformContext.create(settings)
    try:
        with context.unit_of_work() as session:
            return int(session.scalar(select(func.max(OutboxEntry.nonce))) or 0) + 1
    finally:
        context.close()
