"""One shop redeeming from two worker processes at once: each redemption relays the shop's
EIP-2612 permit, signed over the permit nonce read from the chain. The in-process key lock
does not reach the other process; the outbox's one-operation-per-wallet check does."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from sqlalchemy import select

from busanchain.merchants.service import MerchantService
from busanchain.merchants.tables import SettlementRecord, SettlementState
from busanchain.outbox.tables import OutboxEntry, OutboxState
from tests.crash.helpers import platform_env
from tests.merchants.conftest import active_merchant
from tests.merchants.test_service import mint

ROUNDS, AMOUNT = 5, 1_000

WORKER = """
import json, sys, time
from busanchain.config import Settings
from busanchain.domain.errors import BusanchainError
from busanchain.merchants.service import MerchantService
from busanchain.platform.context import PlatformContext

user_id, tag, start, rounds, amount = json.loads(sys.argv[1])
service = MerchantService(PlatformContext.create(Settings.from_env()))
service.chain.token  # noqa: B018 (connect and resolve before the start line)
time.sleep(max(0.0, start - time.time()))
answers = []
for i in range(rounds):
    for _ in range(200):  # 409: the other process's redemption is on its way; retry
        try:
            answers.append(service.redeem(user_id, amount, f"{tag}-redeem-{i:04d}")[0])
            break
        except BusanchainError as exc:
            if exc.status != 409:
                answers.append(exc.status)
                break
            time.sleep(0.02)
print(json.dumps(answers))
"""


def _race(service: MerchantService, owner_user_id: int) -> list[int]:
    """Both workers redeem ROUNDS times from the same start line; their status codes."""
    start = time.time() + 6
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                json.dumps([owner_user_id, f"w{w}", start, ROUNDS, AMOUNT]),
            ],
            env=platform_env(service.context.settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(2)
    ]
    answers: list[int] = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        answers += json.loads(out.strip().splitlines()[-1])
    return answers


def test_two_workers_redeem_without_a_reverted_permit(
    service: MerchantService, official_id: int
) -> None:
    view = active_merchant(service, "twoworkers", official_id, nine="200000077")
    mint(service, view.wallet_address, 50_000, b"\x07" * 32)
    node = service.outbox.client
    node.request("evm_setAutomine", [False])  # 1 s blocks, as the platform runs by default:
    node.request("evm_setIntervalMining", [1])  # a redemption waits in the pool for its block
    try:
        answers = _race(service, view.owner_user_id)
    finally:
        node.request("evm_setIntervalMining", [0])
        node.request("evm_setAutomine", [True])
    with service.context.unit_of_work() as session:
        states = list(session.scalars(select(SettlementRecord.state)))
        entries = session.scalars(select(OutboxEntry.id)).all()
    outcomes = [service.outbox.refresh(entry) for entry in entries]  # follow every one
    reverted = [o for o in outcomes if o.status != OutboxState.CONFIRMED]
    assert answers == [200] * (2 * ROUNDS), (answers, states, reverted)
    assert states == [SettlementState.BURNED] * (2 * ROUNDS)
    assert reverted == []
    assert service.chain.token_balance(view.wallet_address) == 50_000 - 2 * ROUNDS * AMOUNT
