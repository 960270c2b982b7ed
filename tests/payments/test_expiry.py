"""After expiry payments and refunds are refused (own node: the shared one is never warped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from busanchain.db.schema import create_schema
from busanchain.deployment.service import DeploymentService
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.vouchers.contracts import VoucherChain
from busanchain.vouchers.reasons import Reason
from tests.conftest import REPO_ROOT, start_anvil
from tests.payments.conftest import World, pay


@pytest.fixture
def warp_world(tmp_path: Path, database_url: str, anvil_binary: Path) -> Iterator[World]:
    node = start_anvil(tmp_path / "node", anvil_binary)
    settings = Settings.from_env(environ={}, root=REPO_ROOT).with_overrides(
        data_dir=tmp_path / "var",
        database_url=database_url,
        rpc_url=node.config.rpc_url,
        operator_key=ANVIL_DEFAULT_OPERATOR_KEY,
        kek_env="a" * 64,
        session_secret="test-session-secret",
    )
    context = PlatformContext.create(settings)
    try:
        create_schema(context.engine)
        DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(settings))
        world = World(context, VoucherChain(context))
        yield world
        world.close()
    finally:
        context.close()
        node.stop(snapshot=False)


def test_expired_program_refuses_payments_and_refunds(warp_world: World) -> None:
    world = warp_world
    pid = world.program(expiry_s=3_600)
    citizen = world.citizen("citizen1")
    merchant, code = world.merchant("shop1")
    world.grant(pid, citizen.address, 10_000)
    payment_id = pay(citizen, pid, code, 4_000).json()["payment"]["id"]
    assert world.relay() == 1
    client = world.chain.outbox.client
    client.request("evm_increaseTime", [7_200])
    client.request("evm_mine", [])

    answer = pay(citizen, pid, code, 1_000)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["reason"] == int(Reason.EXPIRED)
    refund = merchant.client.post(
        f"/api/payments/{payment_id}/refunds",
        json={"amount": 1_000},
        headers=merchant.headers | {"Idempotency-Key": "refund-expired-1"},
    )
    assert refund.status_code == 422, refund.text
    wallet = citizen.client.get("/api/payments/wallet").json()
    assert wallet["programs"][0]["expired"] is True
    assert wallet["programs"][0]["balance"] == 0
