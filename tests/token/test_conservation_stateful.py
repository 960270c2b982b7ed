"""Money is never lost or created: a Hypothesis state machine over the real pipeline.

Each example runs a whole platform (embedded anvil supervised, real database, outbox,
reconciler loop) and applies random issues, gasless transfers, crashes between the outbox
commit and the broadcast, snapshots and kill -9 of the node. After every settling step the
chain must match a simple model exactly: each balance, the total supply, and one operator
nonce per outbox entry.
"""

from __future__ import annotations

import os
import signal
import tempfile
import uuid
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from busanchain.accounts.service import account_service_for
from busanchain.chain.client import ChainClient
from busanchain.domain.errors import TransactionReverted
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.outbox.reconciler import settle
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.runtime import PlatformRuntime
from busanchain.token.service import TokenService
from tests.conftest import PG_URL_ENV, _pg_schema_url
from tests.crash.helpers import crash_settings, erc20_balance, wait_until

USERS = 3
EXAMPLES = int(os.environ.get("BUSANCHAIN_STATEFUL_EXAMPLES", "4"))


class Conservation(RuleBasedStateMachine):
    """Random money movements and failures against a model of who owns what."""

    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory(prefix="busanchain-stateful-")
        tmp = Path(self._tmp.name)
        self._pg = _pg_schema_url(os.environ[PG_URL_ENV]) if os.environ.get(PG_URL_ENV) else None
        url = next(self._pg) if self._pg else f"sqlite:///{tmp / 'db.sqlite3'}"
        self.runtime = PlatformRuntime(crash_settings(tmp, url, snapshot_interval_s=3600))
        self.runtime.start()
        self.token = TokenService(self.runtime.context)
        self.address_of_token = self.token.contract().address
        self.client = ChainClient(self.runtime.settings.node_rpc_url)
        accounts = account_service_for(self.runtime.context)
        keys = key_service_for(self.runtime.context)
        ids = [
            accounts.create_user(f"holder{i}", "correct horse battery", [Role.CITIZEN]).id
            for i in range(USERS)
        ]
        self.signers = [keys.signer_for_user(i) for i in ids]
        self.model = [0] * USERS
        self.pending = 0

    def teardown(self) -> None:
        self.runtime.stop()
        if self._pg:
            for _ in self._pg:
                pass
        self._tmp.cleanup()

    def _enqueue_issue(self, user: int, amount: int) -> int:
        with self.runtime.context.unit_of_work() as session:
            entry = self.token.enqueue_issue(
                session,
                issuer=self.runtime.operator,
                to=self.signers[user].address,
                amount=amount,
                deposit_ref=uuid.uuid4().hex,
                owner=None,
            )
            return entry.id

    @rule(user=st.integers(0, USERS - 1), amount=st.integers(1, 1_000_000))
    def issue(self, user: int, amount: int) -> None:
        entry_id = self._enqueue_issue(user, amount)
        self.token.outbox.broadcast(entry_id)
        assert self.token.outbox.wait(entry_id, timeout_s=20).status == "confirmed"
        self.model[user] += amount

    @rule(user=st.integers(0, USERS - 1), amount=st.integers(1, 1_000_000))
    def issue_then_crash_before_broadcast(self, user: int, amount: int) -> None:
        self._enqueue_issue(user, amount)  # committed; the process "dies" before broadcast
        self.model[user] += amount
        self.pending += 1

    @precondition(lambda self: self.pending == 0)
    @rule(payer=st.integers(0, USERS - 1), payee=st.integers(0, USERS - 1), share=st.floats(0, 1.5))
    def transfer(self, payer: int, payee: int, share: float) -> None:
        amount = max(1, int(self.model[payer] * share))
        try:
            with self.runtime.context.unit_of_work() as session:
                entry = self.token.enqueue_transfer(
                    session,
                    relayer=self.runtime.operator,
                    payer=self.signers[payer],
                    to=self.signers[payee].address,
                    amount=amount,
                    owner=None,
                )
                entry_id = entry.id
        except TransactionReverted:
            assert amount > self.model[payer]  # refused only when it would overdraw
            return
        assert amount <= self.model[payer]
        self.token.outbox.broadcast(entry_id)
        assert self.token.outbox.wait(entry_id, timeout_s=20).status == "confirmed"
        self.model[payer] -= amount
        self.model[payee] += amount

    @rule()
    def snapshot(self) -> None:
        assert self.runtime.node is not None
        self.runtime.node.snapshot()

    @rule()
    def kill_node(self) -> None:
        node = self.runtime.node
        assert node is not None
        restarts = node.restarts
        os.kill(node.pid or 0, signal.SIGKILL)
        wait_until(lambda: node.restarts > restarts and node.is_alive(), what="node restart")
        self._settle()

    @rule()
    def reconcile(self) -> None:
        self._settle()

    def _settle(self) -> None:
        assert self.runtime.reconciler is not None
        report = settle(self.runtime.reconciler, timeout_s=30)
        assert report.still_open == 0 and report.failed == 0, report
        self.pending = 0

    @invariant()
    def chain_matches_model_when_settled(self) -> None:
        if self.pending:
            return
        balances = [
            erc20_balance(self.client, self.address_of_token, s.address) for s in self.signers
        ]
        assert balances == self.model
        supply = int(
            self.client.request(
                "eth_call", [{"to": self.address_of_token, "data": "0x18160ddd"}, "latest"]
            ),
            16,
        )
        assert supply == sum(self.model)
        with self.runtime.context.unit_of_work() as session:
            entries = int(session.scalar(select(func.count()).select_from(OutboxEntry)) or 0)
        assert self.client.nonce(self.runtime.operator.address) == entries


Conservation.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=10, deadline=None
)
TestConservation = Conservation.TestCase
