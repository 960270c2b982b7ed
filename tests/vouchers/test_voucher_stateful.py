"""Policy vouchers never lose or create money: a Hypothesis state machine over the real pipeline.

Each example resets the node owned by this module (anvil_reset: same process, empty chain, so
snapshots stay small and every example costs the same), funds a fresh operator key (admin,
relayer and treasury), deploys the contracts with a fresh database, registers three merchants
(one of a category program 1 blocks, one in a district program 2 does not accept; a fourth key
is never registered), creates two programs (program 1 with per-person, per-payment and daily
caps and a blocked category; program 2 limited to one district), posts a Merkle round in each
and grants every citizen some vouchers directly. Every chain write goes through the outbox:
the operator relays grants, claims and EIP-712 signed payment batches (payBatch); merchants
get gas from the operator and refund with their own keys.

Rules: grant, claim, pay (1-4 signed payments, some breaking a rule, badly signed, late or
replaying a nonce: each must succeed or fail alone, for the reason the model predicts, with
the paymentId and Korean day the model predicts), refund (part of a payment; sometimes too
much or by the wrong merchant), revoke (a direct grant or an open Merkle leaf), next_day,
expire (warp past a program's expiry: balances read 0, checkPayment says Expired), withdraw
(the treasury gets exactly the remaining backing, once), retry (re-send mined bytes,
re-broadcast an entry, reconcile again, replay a signed payment: no double effect),
crash_server (commit an outbox entry of any action and "die" before or after the broadcast;
the reconciler of the restarted server finishes it) and crash_node (kill -9 the node, restart
it from its last snapshot, and let the reconciler replay what the chain lost; sometimes after a
fresh snapshot, so nothing is lost). Refused calls are refused at gas estimation by the outbox
with the custom error the model predicts, before a nonce is spent.

After every step the chain must equal a pure-Python model (tests/vouchers/voucher_model.py):
each program's conservation() (locked = unspent + unclaimed + unallocated) equals the model's
ledger; every voucher balance (0 after expiry) and their sum = unspent; every DigitalWon
balance; totalSupply = the sum of the balances of every address that ever held DigitalWon =
the model's minted total; totalLocked = the voucher contract's DigitalWon. The outbox agrees
with the chain: every entry is confirmed, in the block (number and hash) the database records,
and each sender's on-chain nonce equals its number of entries. The explorer's ChainIndexer,
run over the node into the same database (seeded at the example's first block), holds exactly
the voucher contract's logs that eth_getLogs returns (after a node crash it must roll back
first), one Paid log per modelled payment, and every outbox transaction.

Runs: 200 examples of at most 10 steps by default (CI; about 2.5 minutes on 2 busy cores).
Long mode: BUSANCHAIN_STATEFUL_RUNS=10000 (examples) and optionally BUSANCHAIN_STATEFUL_STEPS
(steps per example), e.g.
`BUSANCHAIN_STATEFUL_RUNS=10000 .venv/bin/pytest -q -s tests/vouchers/test_voucher_stateful.py`
(-s prints how often each action and outcome occurred). With BUSANCHAIN_TEST_DATABASE_URL
set, each example gets its own PostgreSQL schema; otherwise a copy of a migrated SQLite file
in /dev/shm.

Time travel: the node's clock is moved only by this test (evm_setTime). Each example starts at
the next noon in Korea time, and every warp is followed by a snapshot, so a node crash never
loses blocks from before a warp: replayed transactions run on the same Korean day and on the
same side of every expiry as the first time. After a restart the clock is set back to where
it was (a restarted anvil forgets its time offset; the real world's clock does not go back).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from busanchain.chain.client import ChainClient, RpcError
from busanchain.chain.node import AnvilSupervisor
from busanchain.chain.signing import Signer
from busanchain.config import Settings
from busanchain.db.schema import create_schema
from busanchain.deployment.service import DeploymentService
from busanchain.domain.errors import TransactionReverted
from busanchain.explorer import repository as index_repository
from busanchain.explorer.indexer import ChainIndexer
from busanchain.explorer.repository import BlockRows
from busanchain.explorer.tables import IndexedBlock, IndexedLog, IndexedTransaction
from busanchain.outbox.reconciler import Reconciler, settle
from busanchain.outbox.service import OutboxService
from busanchain.outbox.tables import OutboxEntry, OutboxState
from busanchain.platform.context import PlatformContext
from busanchain.vouchers.contracts import VoucherChain
from busanchain.vouchers.eip712 import PaymentMessage, domain_separator, sign_payment
from busanchain.vouchers.merkle import MerkleTree, grants_tree
from busanchain.vouchers.reasons import Reason
from tests.conftest import PG_URL_ENV, REPO_ROOT, _pg_schema_url
from tests.vouchers.voucher_model import (
    DAY_S,
    KST_OFFSET_S,
    LeafModel,
    MerchantModel,
    PaymentIntent,
    ProgramModel,
    WorldModel,
    kst_day,
)

RUNS = int(os.environ.get("BUSANCHAIN_STATEFUL_RUNS", "200"))
STEPS = int(os.environ.get("BUSANCHAIN_STATEFUL_STEPS", "10"))

CITIZENS = 4
MAX_UINT = 2**256 - 1
ROUND_ID = 1
UNKNOWN_PROGRAM = 99
LEAF_STATUS_TYPES = ["uint256", "uint256", "address", "uint256"]
HOLDER_TYPES = ["uint256", "address"]
SETUP_GRANT = {1: 30_000, 2: 20_000}  # direct grant to every citizen at setup
GAS_MONEY = 10**17  # native gas the operator gives each merchant
TOPIC_PAID = keccak(text="Paid(uint256,uint256,address,address,uint256,bytes32,uint256)")
TOPIC_FAILED = keccak(text="PaymentFailed(uint256,address,uint256,uint8)")

# Merchants: (mcc, district). Program 1 blocks 5813; program 2 accepts district 26350 only.
MERCHANTS = ((5411, 26350), (5813, 26350), (5812, 26110))
UNREGISTERED = len(MERCHANTS)  # index of a merchant key that is not in the registry

citizen_index = st.integers(0, CITIZENS - 1)


def _amounts(kind: str) -> st.SearchStrategy[int]:
    """Payment amounts: mostly within every cap, sometimes zero or above the caps."""
    if kind == "zero":
        return st.just(0)
    return st.integers(1, 20_000) if kind == "small" else st.integers(20_001, 70_000)


program_id = st.sampled_from([1, 2])
pick = st.integers(0, 1_000)

GRANT = st.fixed_dictionaries(
    {
        "program": program_id,
        "grants": st.lists(
            st.tuples(citizen_index, st.integers(1, 120_000)), min_size=1, max_size=3
        ),
    }
)
CLAIM = st.fixed_dictionaries(
    {"program": program_id, "leaf": pick, "tamper": st.sampled_from([False] * 5 + [True])}
)
PAYMENT = st.fixed_dictionaries(
    {
        "payer": citizen_index,
        "program": st.sampled_from([1, 1, 1, 2, 2, UNKNOWN_PROGRAM]),
        "merchant": st.sampled_from([0, 0, 1, 1, 2, 2, UNREGISTERED]),
        "amount": st.sampled_from(["small"] * 6 + ["zero", "large"]).flatmap(_amounts),
        "defect": st.sampled_from(["none"] * 9 + ["bad_signature", "late", "reuse_nonce"]),
    }
)
PAY = st.fixed_dictionaries({"payments": st.lists(PAYMENT, min_size=1, max_size=4)})
REFUND = st.fixed_dictionaries(
    {
        "choice": pick,
        "percent": st.integers(1, 110),
        "wrong_sender": st.sampled_from([False] * 5 + [True]),
    }
)
REVOKE = st.fixed_dictionaries(
    {
        "program": program_id,
        "leaf": st.booleans(),
        "who": pick,
        "amount": st.none() | st.integers(1, 60_000),
    }
)
WITHDRAW = st.fixed_dictionaries({"program": program_id})
ACTIONS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "grant": GRANT,
    "claim": CLAIM,
    "pay": PAY,
    "refund": REFUND,
    "revoke": REVOKE,
    "withdraw": WITHDRAW,
}
CRASH_SERVER = st.tuples(
    st.sampled_from(["before_broadcast", "after_broadcast"]),
    st.one_of([st.tuples(st.just(name), strategy) for name, strategy in ACTIONS.items()]),
)
RETRY = st.tuples(
    st.sampled_from(["send_mined_bytes", "broadcast_again", "reconcile", "replay_payment"]), pick
)


SEEN: Counter[str] = Counter()  # what the runs did, printed at the end (pytest -s)


def event(label: str) -> None:
    """Count an outcome (Hypothesis statistics do not show for run_state_machine_as_test)."""
    SEEN[label] += 1
    if currently_in_test_context():
        hypothesis_event(label)


class BatchReader:
    """JSON-RPC batch requests: one HTTP round trip for all the reads of an invariant."""

    def __init__(self, rpc_url: str) -> None:
        self.rpc_url = rpc_url
        self._http = httpx.Client(timeout=30)

    def run(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in call order; any error answer fails the test."""
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        answers = {a["id"]: a for a in self._http.post(self.rpc_url, json=payload).json()}
        results = []
        for i, (method, _) in enumerate(calls):
            assert "error" not in answers[i], (method, answers[i])
            results.append(answers[i]["result"])
        return results

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _fast_dir(fallback: Path) -> Path:
    """RAM-backed /dev/shm when there is one (SQLite commits fsync), else `fallback`."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else fallback


def migrated_sqlite(folder: Path) -> Path:
    """A SQLite database migrated to the latest schema, to copy for each example."""
    template = folder / "template.sqlite3"
    context = PlatformContext.create(_settings(folder, f"sqlite:///{template}", ""))
    create_schema(context.engine)
    context.close()
    return template


def _settings(tmp: Path, database_url: str, rpc_url: str, operator_key: str = "") -> Settings:
    return Settings.from_env(environ={}, root=REPO_ROOT).with_overrides(
        data_dir=tmp / "var",
        database_url=database_url,
        rpc_url=rpc_url or "http://127.0.0.1:1",
        operator_key=operator_key or None,
        kek_env="c" * 64,
        session_secret="test-session-secret",
    )


def _word(result: str, i: int = 0) -> int:
    """Word `i` of an eth_call result."""
    assert len(result) >= 2 + 64 * (i + 1), f"empty answer {result!r}: is the contract gone?"
    return int(result[2 + 64 * i : 2 + 64 * (i + 1)], 16)


class VoucherWorld(RuleBasedStateMachine):
    """Random allowance operations and failures against a model of who owns what."""

    def __init__(self, node: AnvilSupervisor, workdir: Path, template: Path | None) -> None:
        super().__init__()
        self.node = node
        self._tmp = tempfile.TemporaryDirectory(prefix="example-", dir=workdir)
        self._template = template
        self._pg = _pg_schema_url(os.environ[PG_URL_ENV]) if os.environ.get(PG_URL_ENV) else None
        self.client = ChainClient(node.config.rpc_url)
        self.reader = BatchReader(node.config.rpc_url)
        self.context: PlatformContext | None = None
        self._crash: str | None = None  # crash point for the next outbox write
        try:
            self._setup(Path(self._tmp.name))
        except BaseException:
            self.teardown()
            raise

    # -- setup ---------------------------------------------------------------------------------

    def _setup(self, tmp: Path) -> None:
        if self._pg:
            url = next(self._pg)
        else:
            assert self._template is not None
            shutil.copyfile(self._template, tmp / "db.sqlite3")
            url = f"sqlite:///{tmp / 'db.sqlite3'}"
        # A fresh chain on the same process: snapshots (dumps of the whole state, history
        # included) stay small, so dumping and restarting cost the same in every example.
        self.client.request("anvil_reset", [])
        key = Account.create()
        self.operator = Signer(key)
        self.client.request("anvil_setBalance", [self.operator.address, hex(10**24)])
        self._new_epoch()
        self.start_block = self.client.block_number()
        settings_ = _settings(tmp, url, self.node.config.rpc_url, "0x" + bytes(key.key).hex())
        self.context = PlatformContext.create(settings_)
        if self._pg:
            create_schema(self.context.engine)
        self.outbox = OutboxService(self.context, self.client)
        DeploymentService(self.context, self.outbox).deploy_all(self.operator)
        self.chain = VoucherChain(self.context, self.outbox)
        self.voucher = self.chain.addresses["PolicyVoucher"]
        self.token = self.chain.addresses["DigitalWon"]
        self.separator = domain_separator(self.client.chain_id(), self.voucher)
        self.model = WorldModel(self.voucher, self.operator.address)
        self.signers: dict[str, Signer] = {self.operator.address: self.operator}
        self.citizens = [Signer(Account.create()) for _ in range(CITIZENS)]
        self.merchants = [Signer(Account.create()) for _ in range(len(MERCHANTS) + 1)]
        self._seed_index()
        event("example")
        self._register_merchants()
        self._create_programs()
        self.next_nonce = [0] * CITIZENS
        self.signed_payments: list[tuple[PaymentIntent, tuple[Any, ...]]] = []
        self.refunds = 0
        self.program_ids = sorted(self.model.programs)
        self.holders_c = [c.address for c in self.citizens]
        self.holders = sorted(
            {
                self.operator.address,
                self.voucher,
                *self.holders_c,
                *(m.address for m in self.merchants),
            }
        )
        self.senders = sorted({self.operator.address, *(m.address for m in self.merchants)})
        self._calls: list[tuple[str, list[Any]]] = []

    def _new_epoch(self) -> None:
        """Move the clock to the next noon in Korea time, mine, and snapshot."""
        now = self._chain_time()
        day = (now + KST_OFFSET_S) // DAY_S + 1
        self._set_time(day * DAY_S - KST_OFFSET_S + 12 * 3600)

    def _seed_index(self) -> None:
        """Start the explorer index at this example's first block (not at genesis)."""
        block = self.client.request("eth_getBlockByNumber", [hex(self.start_block), False])
        row = IndexedBlock(
            number=int(block["number"], 16),
            hash=block["hash"].lower(),
            parent_hash=block["parentHash"].lower(),
            timestamp=int(block["timestamp"], 16),
            tx_count=len(block["transactions"]),
            gas_used=int(block["gasUsed"], 16),
            gas_limit=int(block["gasLimit"], 16),
            miner=to_checksum_address(block["miner"]),
        )
        assert self.context is not None
        with self.context.unit_of_work() as session:
            index_repository.store_block(session, BlockRows(row, [], [], []))
            index_repository.save_cursor(session, self.client.chain_id(), row.number, row.hash)
        self.indexer = ChainIndexer(self.context, confirmations=0, batch_size=50)

    def _register_merchants(self) -> None:
        for i, (mcc, district) in enumerate(MERCHANTS):
            merchant = self.merchants[i]
            self.signers[merchant.address] = merchant
            bn_hash = hashlib.sha256(f"business-{i}".encode()).digest()
            args = [merchant.address, bn_hash, mcc, district]
            self._operator_call(self.chain.registry, "register", args)
            self.model.merchants[merchant.address] = MerchantModel(merchant.address, mcc, district)
        self.refund_ready: set[str] = set()

    def _prepare_refunds(self, merchant: Signer) -> None:
        """Before a merchant's first refund: gas from the operator, then approve the voucher."""
        if merchant.address in self.refund_ready:
            return
        crash, self._crash = self._crash, None  # crash the refund itself, not its preparation
        self._send(self.operator, merchant.address, b"", value=GAS_MONEY)
        approve = self.chain.calldata(self.chain.token, "approve", [self.voucher, MAX_UINT])
        self._send(merchant, self.token, approve)
        self.refund_ready.add(merchant.address)
        self._crash = crash

    def _create_programs(self) -> None:
        now = self._chain_time()
        c = [s.address for s in self.citizens]
        programs = [
            ProgramModel(
                program_id=1,
                budget=500_000,
                per_person=100_000,
                per_payment_cap=20_000,
                daily_cap=25_000,
                start=now,
                expiry=now + 3 * DAY_S - 600,
                blocked=frozenset({5813}),
                allowed_districts=frozenset(),
            ),
            ProgramModel(
                program_id=2,
                budget=300_000,
                per_person=0,
                per_payment_cap=0,
                daily_cap=0,
                start=now,
                expiry=now + 5 * DAY_S - 600,
                blocked=frozenset(),
                allowed_districts=frozenset({26350}),
            ),
        ]
        rounds = {
            1: [(c[0], 40_000), (c[1], 25_000), (c[2], 60_000), (c[3], 120_000)],
            2: [(c[0], 30_000), (c[3], 50_000), (c[1], 15_000)],
        }
        budget = sum(p.budget for p in programs)
        self._operator_call(self.chain.token, "mint", [self.operator.address, budget, b"\x01" * 32])
        self.model.mint(self.operator.address, budget)
        self._operator_call(self.chain.token, "approve", [self.voucher, budget])
        self.trees: dict[int, MerkleTree] = {}
        for p in programs:
            params: tuple[Any, ...] = (
                p.budget,
                p.per_person,
                p.per_payment_cap,
                p.daily_cap,
                p.start,
                p.expiry,
                [],
                sorted(p.blocked),
                sorted(p.allowed_districts),
            )
            self._operator_call(self.chain.voucher, "createProgram", [p.program_id, params])
            self.model.create_program(p)
            grants = rounds[p.program_id]
            tree = grants_tree(grants, ROUND_ID)
            total = sum(a for _, a in grants)
            self._operator_call(
                self.chain.voucher, "postRound", [p.program_id, ROUND_ID, tree.root, total]
            )
            leaves = [LeafModel(r, a, ROUND_ID, i) for i, (r, a) in enumerate(grants)]
            self.model.post_round(p.program_id, leaves, total)
            self.trees[p.program_id] = tree
            start_grants = [(citizen, SETUP_GRANT[p.program_id]) for citizen in c]
            self._grant(p.program_id, [(i, SETUP_GRANT[p.program_id]) for i in range(CITIZENS)])
            assert self.model.programs[p.program_id].balances[c[0]] == start_grants[0][1]

    def teardown(self) -> None:
        if self.context is not None:
            self.context.close()
        if self._pg:
            for _ in self._pg:
                pass
        self.client.close()
        self.reader.close()
        self._tmp.cleanup()

    # -- plumbing ------------------------------------------------------------------------------

    def _chain_time(self) -> int:
        block = self.client.request("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def _set_time(self, timestamp: int) -> None:
        """Warp the clock forward, mine a block at it and snapshot (see the module docstring)."""
        self.client.request("evm_setTime", [timestamp])
        self.client.request("evm_mine", [])
        self.node.snapshot()

    def _reconciler(self) -> Reconciler:
        assert self.context is not None
        return Reconciler(
            self.context,
            signers=self.signers.get,
            finalized_block=lambda _client: self.node.snapshot_block(),
            client=self.client,
        )

    def _restart_server(self) -> None:
        """What a restarted server does first: reconcile until nothing is open."""
        report = settle(self._reconciler(), timeout_s=30)
        assert report.still_open == 0 and report.failed == 0 and report.reverted == 0, report

    def _send(self, signer: Signer, to: str, data: bytes, value: int = 0) -> dict[str, Any]:
        """Enqueue, commit and deliver one transaction (maybe crashing on the way)."""
        crash, self._crash = self._crash, None
        assert self.context is not None
        with self.context.unit_of_work() as session:
            entry = self.outbox.enqueue(
                session, signer=signer, intent="voucher-stateful", to=to, data=data, value=value
            )
            entry_id = entry.id
        if crash != "before_broadcast":
            self.outbox.broadcast(entry_id)
        if crash is None:
            outcome = self.outbox.wait(entry_id, timeout_s=20)
        else:
            event(f"crash_server {crash}")
            self._restart_server()
            outcome = self.outbox.refresh(entry_id)
        assert outcome.status == OutboxState.CONFIRMED, outcome
        receipt = self.client.receipt(outcome.tx_hash)
        assert receipt is not None and int(receipt["status"], 16) == 1
        return receipt

    def _operator_call(self, contract: Any, fn: str, args: list[Any]) -> dict[str, Any]:
        return self._send(self.operator, contract.address, self.chain.calldata(contract, fn, args))

    def _attempt(
        self, expected_error: str | None, signer: Signer, contract: Any, fn: str, args: list[Any]
    ) -> dict[str, Any] | None:
        """Send a call the model expects to succeed, or check that it is refused as expected."""
        data = self.chain.calldata(contract, fn, args)
        if expected_error is None:
            event(f"{fn}: ok")
            return self._send(signer, contract.address, data)
        event(f"{fn}: {expected_error}")
        with pytest.raises(TransactionReverted) as refused:
            self._send(signer, contract.address, data)
        self._crash = None
        assert str(refused.value.details["reason"]).startswith(expected_error), refused.value
        return None

    # -- actions (rules and crash_server share them) -------------------------------------------

    def _grant(self, program: int, grants: list[tuple[int, int]]) -> None:
        pairs = [(self.citizens[c].address, amount) for c, amount in grants]
        error = self.model.grant_error(program, [a for _, a in pairs], self._chain_time())
        args = [program, [a for a, _ in pairs], [b for _, b in pairs]]
        if self._attempt(error, self.operator, self.chain.voucher, "grantBatch", args):
            self.model.grant(program, pairs)

    def _claim(self, program: int, leaf: int, tamper: bool) -> None:
        chosen = self.model.programs[program].leaves[
            leaf % len(self.model.programs[program].leaves)
        ]
        amount = chosen.amount + (1 if tamper else 0)
        proof = self.trees[program].proof(chosen.index)
        error = self.model.leaf_error(program, chosen, amount, self._chain_time())
        args = [program, ROUND_ID, chosen.recipient, amount, proof]
        if self._attempt(error, self.operator, self.chain.voucher, "claim", args):
            self.model.claim(program, chosen)

    def _pay(self, payments: list[dict[str, Any]]) -> None:
        now = self._chain_time()
        intents: list[PaymentIntent] = []
        structs: list[tuple[Any, ...]] = []
        for spec in payments:
            payer = self.citizens[spec["payer"]]
            used = self.model.used_nonces[payer.address]
            if spec["defect"] == "reuse_nonce" and used:
                nonce = max(used)
            else:
                nonce = self.next_nonce[spec["payer"]]
                self.next_nonce[spec["payer"]] += 1
            message = PaymentMessage(
                payer=payer.address,
                program_id=spec["program"],
                merchant=self.merchants[spec["merchant"]].address,
                amount=spec["amount"],
                order_ref=hashlib.sha256(f"{payer.address}:{nonce}".encode()).digest(),
                nonce=nonce,
                deadline=now - 1 if spec["defect"] == "late" else now + 3600,
            )
            if spec["defect"] == "bad_signature":
                impostor = self.citizens[(spec["payer"] + 1) % CITIZENS]
                signature = impostor.sign_digest(message.digest(self.separator))
            else:
                signature = sign_payment(payer, message, self.separator)
            intents.append(
                PaymentIntent(
                    payer.address,
                    message.program_id,
                    message.merchant,
                    message.amount,
                    nonce,
                    message.deadline,
                    spec["defect"] != "bad_signature",
                )
            )
            structs.append(message.as_tuple(signature))
        self._pay_batch(intents, structs)

    def _pay_batch(self, intents: list[PaymentIntent], structs: list[tuple[Any, ...]]) -> None:
        """Relay a batch with payBatch; each payment must succeed or fail as the model says."""
        receipt = self._operator_call(self.chain.voucher, "payBatch", [structs])
        block = self.client.request("eth_getBlockByNumber", [receipt["blockNumber"], False])
        mined_at = int(block["timestamp"], 16)
        expected: list[tuple[Any, ...]] = []
        for i, intent in enumerate(intents):
            reason = self.model.payment_reason(intent, mined_at)
            event(f"payment: {reason.name}")
            if reason == Reason.NONE:
                record = self.model.pay(intent, mined_at)
                self.signed_payments.append((intent, structs[i]))
                expected.append(
                    (
                        "paid",
                        record.payment_id,
                        record.program_id,
                        record.payer,
                        record.merchant,
                        record.amount,
                        record.day,
                    )
                )
            else:
                expected.append(("failed", i, intent.payer, intent.nonce, int(reason)))
        assert self._batch_outcomes(receipt) == expected

    def _batch_outcomes(self, receipt: dict[str, Any]) -> list[tuple[Any, ...]]:
        outcomes: list[tuple[Any, ...]] = []
        for log in receipt["logs"]:
            if log["address"].lower() != self.voucher.lower():
                continue
            topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
            data = bytes.fromhex(log["data"][2:])
            if topics[0] == TOPIC_PAID:
                merchant, amount, _ref, day = decode(
                    ["address", "uint256", "bytes32", "uint256"], data
                )
                outcomes.append(
                    (
                        "paid",
                        int.from_bytes(topics[1], "big"),
                        int.from_bytes(topics[2], "big"),
                        to_checksum_address(topics[3][12:]),
                        to_checksum_address(merchant),
                        amount,
                        day,
                    )
                )
            elif topics[0] == TOPIC_FAILED:
                index, nonce, reason = decode(["uint256", "uint256", "uint8"], data)
                outcomes.append(
                    ("failed", index, to_checksum_address(topics[1][12:]), nonce, reason)
                )
        return outcomes

    def _refund(self, choice: int, percent: int, wrong_sender: bool) -> None:
        if not self.model.payments:
            return
        records = sorted(self.model.payments)
        record = self.model.payments[records[choice % len(records)]]
        amount = max(1, record.amount * percent // 100)
        merchant = self.signers[record.merchant]
        if wrong_sender:
            index = next(i for i, m in enumerate(self.merchants) if m.address == record.merchant)
            merchant = self.merchants[(index + 1) % len(MERCHANTS)]
        self._prepare_refunds(merchant)
        error = self.model.refund_error(record, merchant.address, amount, self._chain_time())
        struct = (record.program_id, record.payer, record.merchant, record.amount, record.day)
        args = [record.payment_id, struct, amount]
        if self._attempt(error or None, merchant, self.chain.voucher, "refund", args):
            self.model.refund(record, amount)
            self.refunds += 1

    def _revoke(self, program: int, leaf: bool, who: int, amount: int | None) -> None:
        now = self._chain_time()
        p = self.model.programs[program]
        if leaf:
            chosen = p.leaves[who % len(p.leaves)]
            proof = self.trees[program].proof(chosen.index)
            error = self.model.leaf_error(program, chosen, chosen.amount, now)
            args = [program, ROUND_ID, chosen.recipient, chosen.amount, proof]
            if self._attempt(error, self.operator, self.chain.voucher, "revokeRootGrant", args):
                self.model.revoke_leaf(program, chosen)
            return
        holder = self.citizens[who % CITIZENS].address
        if amount is None:  # everything revocable (or 1 when nothing is)
            amount = max(1, min(p.direct[holder], p.balances[holder]))
        error = self.model.revoke_error(program, holder, amount, now)
        args = [program, holder, amount]
        if self._attempt(error, self.operator, self.chain.voucher, "revokeGrant", args):
            self.model.revoke(program, holder, amount)

    def _withdraw(self, program: int) -> None:
        error = self.model.withdraw_error(program, self._chain_time())
        before = self.chain.token_balance(self.operator.address)
        if self._attempt(error, self.operator, self.chain.voucher, "withdrawExpired", [program]):
            amount = self.model.withdraw(program)
            assert self.chain.token_balance(self.operator.address) - before == amount

    # -- rules ---------------------------------------------------------------------------------

    @rule(args=GRANT)
    def grant(self, args: dict[str, Any]) -> None:
        self._grant(**args)

    @rule(args=CLAIM)
    def claim(self, args: dict[str, Any]) -> None:
        self._claim(**args)

    # Hypothesis draws the first and the last rule more often; rules are sorted by their
    # number of arguments, then by name. pay's two arguments make it the last.
    @rule(args=PAY, refund_now=st.sampled_from([None, None, 50, 100]))
    def pay(self, args: dict[str, Any], refund_now: int | None) -> None:
        """Pay a batch; optionally the merchant refunds (part of) the newest payment at once."""
        paid = len(self.model.payments)
        self._pay(**args)
        if refund_now is not None and len(self.model.payments) > paid:
            self._refund(len(self.model.payments) - 1, refund_now, wrong_sender=False)

    @rule(args=REFUND)
    def refund(self, args: dict[str, Any]) -> None:
        self._refund(**args)

    @rule(args=REVOKE)
    def revoke(self, args: dict[str, Any]) -> None:
        self._revoke(**args)

    @rule(args=WITHDRAW)
    def withdraw(self, args: dict[str, Any]) -> None:
        self._withdraw(**args)

    @rule(days=st.integers(1, 2))
    def next_day(self, days: int) -> None:
        event(f"next_day +{days}")
        self._set_time(self._chain_time() + days * DAY_S)

    @rule(program=program_id)
    def expire(self, program: int) -> None:
        event(f"expire program {program}")
        p = self.model.programs[program]
        if self._chain_time() < p.expiry:
            self._set_time(p.expiry + 1)
        for citizen in self.citizens:
            assert self.chain.voucher_balance(citizen.address, program) == 0
        merchant = self.merchants[0].address
        check = [program, self.citizens[0].address, merchant, 1]
        assert self.chain.read_one(self.chain.voucher, "checkPayment", check) == Reason.EXPIRED

    @rule(args=RETRY)
    def retry(self, args: tuple[str, int]) -> None:
        kind, choice = args
        event(f"retry: {kind}")
        assert self.context is not None
        with self.context.unit_of_work() as session:
            entries = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)).all()
            entry = entries[choice % len(entries)]
            entry_id, raw = entry.id, entry.raw_tx
        if kind == "send_mined_bytes":
            with pytest.raises(RpcError):
                self.client.send_raw(bytes.fromhex(raw[2:]))
        elif kind == "broadcast_again":
            self.outbox.broadcast(entry_id)
            assert self.outbox.refresh(entry_id).status == OutboxState.CONFIRMED
        elif kind == "reconcile":
            report = self._reconciler().run_once()
            assert (report.rebroadcast, report.reopened, report.still_open) == (0, 0, 0), report
        elif self.signed_payments:  # replay_payment: the nonce is spent, nothing happens
            intent, struct = self.signed_payments[choice % len(self.signed_payments)]
            self._pay_batch([intent], [struct])

    @rule(args=CRASH_SERVER)
    def crash_server(self, args: tuple[str, tuple[str, dict[str, Any]]]) -> None:
        point, (action, action_args) = args
        self._crash = point
        getattr(self, f"_{action}")(**action_args)
        self._crash = None

    @rule(lose=st.sampled_from(["since_last_snapshot"] * 3 + ["nothing"]))
    def crash_node(self, lose: str) -> None:
        if lose == "nothing":
            self.node.snapshot()
        head_time = self._chain_time()
        lost = self.client.block_number() - self.node.snapshot_block()
        event(f"crash_node loses {min(lost, 10)}{'+' if lost >= 10 else ''} blocks")
        process = self.node._process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.node.start(watch=False)
        self.client.request("evm_setTime", [head_time + 1])
        self._restart_server()

    # -- invariants ----------------------------------------------------------------------------

    def _view_calls(self) -> list[tuple[str, list[Any]]]:
        """The reads of the invariant, encoded once per example (encoding is slow)."""
        voucher, token = self.chain.voucher, self.chain.token

        def call(contract: Any, fn: str, args: list[Any]) -> tuple[str, list[Any]]:
            data = contract.encode_abi(fn, args)
            return ("eth_call", [{"to": contract.address, "data": data}, "latest"])

        calls = [("eth_getBlockByNumber", ["latest", False])]
        calls += [call(voucher, "conservation", [p]) for p in self.program_ids]
        calls += [
            call(voucher, "balanceOf", [c, p]) for p in self.program_ids for c in self.holders_c
        ]
        calls += [call(token, "balanceOf", [h]) for h in self.holders]
        calls += [call(token, "totalSupply", []), call(voucher, "totalLocked", [])]
        calls += [("eth_getTransactionCount", [s, "latest"]) for s in self.senders]
        return calls

    @invariant()
    def chain_matches_model(self) -> None:
        programs = self.program_ids
        citizens = self.holders_c
        holders = self.holders
        senders = self.senders
        if not self._calls:
            self._calls = self._view_calls()
        calls = self._calls
        results = iter(self.reader.run(calls))
        now = int(next(results)["timestamp"], 16)
        for p in programs:
            model = self.model.programs[p]
            raw = next(results)
            conservation = tuple(_word(raw, i) for i in range(4))
            assert conservation == model.conservation(), (p, conservation, model.conservation())
            locked, unspent, unclaimed, unallocated = conservation
            assert locked == unspent + unclaimed + unallocated
        for p in programs:
            model = self.model.programs[p]
            balances = [_word(next(results)) for _ in citizens]
            assert balances == [model.visible_balance(c, now) for c in citizens], p
            if not model.expired(now):
                assert sum(balances) == model.unspent  # every holder is a known citizen
        tokens = {h: _word(next(results)) for h in holders}
        assert tokens == {h: self.model.tokens[h] for h in holders}
        supply, total_locked = _word(next(results)), _word(next(results))
        assert supply == sum(tokens.values()) == self.model.total_supply
        assert total_locked == tokens[self.voucher] == self.model.total_locked
        nonces = {s: int(next(results), 16) for s in senders}
        self._details_match_model(now)
        self._outbox_matches_chain(nonces)
        self._index_matches_chain()

    def _details_match_model(self, now: int) -> None:
        """Leaf states, today's totals, revocable amounts and refunds, as the model has them."""
        day = kst_day(now)
        calls: list[tuple[str, list[Any]]] = []
        expected: list[int] = []
        for p, program in sorted(self.model.programs.items()):
            for leaf in program.leaves:
                args = [p, leaf.round_id, leaf.recipient, leaf.amount]
                calls.append(self._view("leafStatus", LEAF_STATUS_TYPES, args))
                expected.append(leaf.status)
            for citizen in self.holders_c:
                calls.append(self._view("paidToday", HOLDER_TYPES, [p, citizen]))
                expected.append(program.daily[(citizen, day)])
                calls.append(self._view("revocable", HOLDER_TYPES, [p, citizen]))
                revocable = min(program.direct[citizen], program.balances[citizen])
                expected.append(0 if program.expired(now) else revocable)
        for payment_id, record in sorted(self.model.payments.items()):
            calls.append(self._view("refundedOf", ["uint256"], [payment_id]))
            expected.append(record.refunded)
        assert [_word(r) for r in self.reader.run(calls)] == expected

    def _view(self, fn: str, types: list[str], args: list[Any]) -> tuple[str, list[Any]]:
        """An eth_call of a PolicyVoucher view, encoded with eth_abi (web3's encoder is slow)."""
        selector = keccak(text=f"{fn}({','.join(types)})")[:4]
        data = "0x" + (selector + encode(types, args)).hex()
        return ("eth_call", [{"to": self.voucher, "data": data}, "latest"])

    def _outbox_matches_chain(self, nonces: dict[str, int]) -> None:
        assert self.context is not None
        with self.context.unit_of_work() as session:
            entries = [
                (e.tx_hash, e.state, e.block_number, e.block_hash)
                for e in session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))
            ]
            per_sender = dict(
                session.execute(
                    select(OutboxEntry.sender, func.count()).group_by(OutboxEntry.sender)
                ).all()
            )
        assert {s: n for s, n in nonces.items() if n} == per_sender
        receipts = self.reader.run([("eth_getTransactionReceipt", [e[0]]) for e in entries])
        for (tx_hash, state, number, block_hash), receipt in zip(entries, receipts, strict=True):
            assert state == OutboxState.CONFIRMED, (tx_hash, state)
            assert receipt is not None, f"{tx_hash} is recorded as mined but the chain lost it"
            assert int(receipt["status"], 16) == 1
            assert (int(receipt["blockNumber"], 16), receipt["blockHash"].lower()) == (
                number,
                block_hash,
            )

    def _index_matches_chain(self) -> None:
        self.indexer.sync()
        assert self.context is not None
        with self.context.unit_of_work() as session:
            tip = index_repository.tip(session)
            assert tip is not None
            indexed = [
                (r.block_number, r.log_index, r.tx_hash, r.topics, r.data)
                for r in session.scalars(
                    select(IndexedLog)
                    .where(IndexedLog.address == self.voucher)
                    .order_by(IndexedLog.block_number, IndexedLog.log_index)
                )
            ]
            outbox_hashes = set(session.scalars(select(OutboxEntry.tx_hash)))
            indexed_hashes = set(
                session.scalars(
                    select(IndexedTransaction.hash).where(IndexedTransaction.status == 1)
                )
            )
            tip_number = tip.number
        assert tip_number == self.client.block_number()
        logs = self.client.request(
            "eth_getLogs",
            [
                {
                    "address": self.voucher,
                    "fromBlock": hex(self.start_block + 1),
                    "toBlock": hex(tip_number),
                }
            ],
        )
        on_chain = [
            (
                int(g["blockNumber"], 16),
                int(g["logIndex"], 16),
                g["transactionHash"].lower(),
                json.dumps([t.lower() for t in g["topics"]]),
                g["data"].lower(),
            )
            for g in logs
        ]
        assert indexed == on_chain
        paid = sum(1 for g in logs if bytes.fromhex(g["topics"][0][2:]) == TOPIC_PAID)
        assert paid == len(self.model.payments)
        assert outbox_hashes <= indexed_hashes


SETTINGS = settings(
    max_examples=RUNS,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def pooled_http() -> Iterator[None]:
    """Speed only: `httpx.post` (used by chain.rpc.raw_call and the explorer's rpc_batch)
    builds a new client, and so a new TLS context (~25 ms), per call; here it reuses one
    pooled client. Requests still go over HTTP to the real node."""
    client = httpx.Client()

    def post(url: str, **kwargs: Any) -> httpx.Response:
        return client.post(url, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx, "post", post)
        yield
    client.close()


def test_vouchers_conserve_money_through_crashes(
    warp_node: AnvilSupervisor, tmp_path: Path, pooled_http: None
) -> None:
    """The state machine above, RUNS examples on one node owned by this module."""
    with tempfile.TemporaryDirectory(prefix="voucher-stateful-", dir=_fast_dir(tmp_path)) as work:
        workdir = Path(work)
        template = None if os.environ.get(PG_URL_ENV) else migrated_sqlite(workdir)
        SEEN.clear()
        run_state_machine_as_test(  # takes any factory; typeshed says a class
            lambda: VoucherWorld(warp_node, workdir, template),  # type: ignore[arg-type]
            settings=SETTINGS,
        )
    print("\n".join(f"{count:6d}  {label}" for label, count in sorted(SEEN.items())))


def test_a_refund_lost_with_its_payment_is_replayed_after_it(
    warp_node: AnvilSupervisor, tmp_path: Path, pooled_http: None
) -> None:
    """The sequence the state machine can reach: a merchant ready to refund (gas, approval)
    before the last snapshot, then a payment and its refund, then kill -9 of the node. The
    replay must mine the payment before the refund, whatever the two senders' addresses."""
    with tempfile.TemporaryDirectory(prefix="voucher-replay-", dir=_fast_dir(tmp_path)) as work:
        workdir = Path(work)
        template = None if os.environ.get(PG_URL_ENV) else migrated_sqlite(workdir)
        for _ in range(30):  # until the merchant's address sorts before the operator's
            world = VoucherWorld(warp_node, workdir, template)
            try:
                if world.merchants[0].address.lower() > world.operator.address.lower():
                    continue
                first = {"payer": 0, "program": 1, "merchant": 0, "amount": 1_000, "defect": "none"}
                world.pay({"payments": [first]}, None)
                world.refund({"choice": 0, "percent": 50, "wrong_sender": False})
                world.next_day(1)  # warps and snapshots: the merchant's setup is now final
                world.pay({"payments": [first | {"payer": 1}]}, None)
                world.refund({"choice": 1, "percent": 50, "wrong_sender": False})
                world.chain_matches_model()
                world.crash_node("since_last_snapshot")
                world.chain_matches_model()
                return
            finally:
                world.teardown()
        pytest.fail("no merchant key sorted before the operator's")


def test_the_model_predicts_a_payment_failure_reason_in_contract_order() -> None:
    """A quick, chain-free check of the model's rule order (expired before balance, etc.)."""
    model = WorldModel("0x" + "11" * 20, "0x" + "22" * 20)
    program = ProgramModel(1, 100, 0, 10, 0, 0, 1_000, frozenset({5813}), frozenset())
    model.programs[1] = program
    model.tokens[model.operator] = 100
    model.create_program(program)
    merchant = "0x" + "33" * 20
    model.merchants[merchant] = MerchantModel(merchant, 5411, 26350)
    intent = PaymentIntent("0x" + "44" * 20, 1, merchant, 11, 0, 2_000, True)
    assert model.payment_reason(intent, 10) == Reason.OVER_PAYMENT_CAP
    assert model.payment_reason(intent, 1_000) == Reason.EXPIRED
    assert model.payment_reason(intent, 2_001) == Reason.DEADLINE_PASSED
