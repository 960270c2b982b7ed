"""kill -9 the supervised anvil node after N confirmed transfers, then let it restart.

The supervisor restarts the node from its last atomic snapshot; the reconciler replays what
the chain lost. On chain, every confirmed transfer must be there exactly once: balances
match, and the operator's nonce equals the number of outbox entries.
"""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import func, select

from busanchain.chain.client import ChainClient
from busanchain.outbox.tables import OutboxEntry, OutboxState
from busanchain.platform.runtime import PlatformRuntime
from busanchain.token.service import TokenService
from tests.crash.helpers import CRASH_SEEDS, crash_settings, erc20_balance, wait_until

pytestmark = pytest.mark.crash


def _mint(runtime: PlatformRuntime, token: TokenService, to: str, amount: int, ref: str) -> None:
    with runtime.context.unit_of_work() as session:
        entry = token.enqueue_issue(
            session, issuer=runtime.operator, to=to, amount=amount, deposit_ref=ref, owner=None
        )
    token.outbox.broadcast(entry.id)
    outcome = token.outbox.wait(entry.id, timeout_s=10)
    assert outcome.status == OutboxState.CONFIRMED


def _entries(runtime: PlatformRuntime) -> tuple[int, int]:
    with runtime.context.unit_of_work() as session:
        total = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
        confirmed = session.scalar(
            select(func.count())
            .select_from(OutboxEntry)
            .where(OutboxEntry.state == OutboxState.CONFIRMED)
        )
    return int(total), int(confirmed or 0)


@pytest.mark.parametrize("seed", range(CRASH_SEEDS))
def test_kill_node_after_confirmed_transfers(seed: int, tmp_path: Path, database_url: str) -> None:
    rng = random.Random(seed)
    settings = crash_settings(
        tmp_path, database_url, snapshot_interval_s=rng.choice([0.2, 0.5, 2.0])
    )
    runtime = PlatformRuntime(settings)
    runtime.start()
    try:
        token = TokenService(runtime.context)
        address = token.contract().address
        client = ChainClient(settings.node_rpc_url)
        recipients = [Account.create().address for _ in range(3)]
        expected: Counter[str] = Counter()
        for i in range(rng.randint(4, 12)):
            to, amount = rng.choice(recipients), rng.randint(1, 50_000)
            _mint(runtime, token, to, amount, f"seed{seed}-deposit{i}")
            expected[to] += amount
        head_before = client.block_number()
        assert runtime.node is not None
        os.kill(runtime.node.pid or 0, signal.SIGKILL)

        wait_until(lambda: runtime.node is not None and runtime.node.restarts >= 1, what="restart")
        total, _ = _entries(runtime)
        wait_until(lambda: _entries(runtime)[1] == total, what="all entries confirmed again")
        wait_until(
            lambda: all(erc20_balance(client, address, r) == expected[r] for r in recipients),
            what="balances restored",
        )
        for r in recipients:  # 0 lost, 0 duplicated
            assert erc20_balance(client, address, r) == expected[r]
        assert client.nonce(runtime.operator.address) == total
        assert client.block_number() >= runtime.node.snapshot_block()
        assert head_before > 0
    finally:
        runtime.stop()
