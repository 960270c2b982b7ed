"""The payment relayer: pending payments go on chain in `payBatch` transactions.

Each pass (1) settles batches already sent, from their receipts, and (2) sends the oldest
pending payments as one new batch. The batch's outbox entry and the rows marked `submitted`
commit together, before the broadcast; after a crash the rows still point at their entry and
are settled from its receipt (the outbox reconciler rebroadcasts it if it was never sent).
A batch that reverted or can never be mined puts its payments back to `pending` only when
their nonce is still unused on chain, so an accepted payment is never lost or paid twice.
Open Merkle grants of the payers are claimed first, by the same sender (nonce order).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak
from sqlalchemy.orm import Session

from busanchain.chain.signing import Signer
from busanchain.db.base import utcnow
from busanchain.domain.errors import ChainError, TransactionReverted
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.service import OutboxService, crash_point
from busanchain.outbox.tables import OutboxState
from busanchain.payments.repository import PaymentRepository
from busanchain.payments.tables import PaymentRecord, PaymentState
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.platform.reads import read_session
from busanchain.vouchers.contracts import VoucherChain
from busanchain.vouchers.reasons import Reason

log = logging.getLogger(__name__)

BATCH_MAX = 300
MAX_IN_FLIGHT = 6
GAS_PER_PAYMENT = 250_000
GAS_BASE = 80_000
CLAIM_GAS = 250_000
PAID_TOPIC = (
    "0x" + keccak(text="Paid(uint256,uint256,address,address,uint256,bytes32,uint256)").hex()
)
FAILED_TOPIC = "0x" + keccak(text="PaymentFailed(uint256,address,uint256,uint8)").hex()

_wake = threading.Event()
_settled = threading.Condition()
_settled_ids: dict[int, str] = {}
_running = threading.Event()


def wake() -> None:
    """Tell the relayer loop that a payment is waiting."""
    _wake.set()


def is_running() -> bool:
    """Whether a relayer loop runs in this process (so waiting for a receipt makes sense)."""
    return _running.is_set()


def wait_settled(payment_id: int, timeout_s: float) -> str | None:
    """Wait until the relayer settles `payment_id` in this process; its state, or None."""
    deadline = time.monotonic() + timeout_s
    with _settled:
        while payment_id not in _settled_ids:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            _settled.wait(left)
        return _settled_ids.get(payment_id)


def _publish(states: dict[int, str]) -> None:
    if not states:
        return
    with _settled:
        _settled_ids.update(states)
        while len(_settled_ids) > 100_000:
            _settled_ids.pop(next(iter(_settled_ids)))
        _settled.notify_all()


@dataclass
class RelayReport:
    """What one pass did."""

    submitted: int = 0
    confirmed: int = 0
    failed: int = 0
    requeued: int = 0
    claims: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def settled(self) -> int:
        """Payments whose outcome became known in this pass."""
        return self.confirmed + self.failed


class Relayer:
    """Builds, sends and settles payment batches."""

    def __init__(
        self,
        context: PlatformContext,
        signer: Signer | None = None,
        outbox: OutboxService | None = None,
        batch_max: int = BATCH_MAX,
    ) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self.chain = VoucherChain(context, self.outbox)
        self.signer = signer or operator_signer(context.settings)
        self.batch_max = batch_max
        self._lock = threading.Lock()

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self, wait_s: float = 0.0) -> RelayReport:
        """Settle sent batches, then send one new batch; wait up to `wait_s` for receipts."""
        report = RelayReport()
        self._resolve_contracts()
        with self._lock:
            self.settle_all(report)
            entry_id = None
            if len(self._in_flight()) < MAX_IN_FLIGHT:
                entry_id = self.submit(report)
            if entry_id is not None and wait_s > 0:
                self.outbox.wait(entry_id, wait_s)
                self.settle_all(report)
        return report

    def _resolve_contracts(self) -> None:
        """Look the contract addresses up outside any unit of work (SQLite allows one writer:
        a nested unit of work would wait for the outer one)."""
        _ = self.chain.voucher, self.chain.token

    def _in_flight(self) -> list[int]:
        with read_session(self.context) as session:
            return PaymentRepository(session).in_flight_entries()

    # -- submitting --------------------------------------------------------------------------

    def submit(self, report: RelayReport) -> int | None:
        """Send the oldest pending payments as one payBatch; returns its outbox entry id.

        The batch is encoded and its gas estimated from a read snapshot, outside the write
        transaction (which every request's commit waits for); the write transaction then
        only checks the rows are still pending, enqueues the entry and marks them.
        """
        voucher = self.chain.voucher
        chain_id = self.outbox.client.chain_id()
        with read_session(self.context) as session:
            snapshot = list(PaymentRepository(session).pending(self.batch_max))
            ids = [r.id for r in snapshot]
            payments = [_payment_tuple(r) for r in snapshot]
        if not ids:
            return None
        data = self.chain.calldata(voucher, "payBatch", [payments])
        estimate = self._estimate(data)
        with key_lock(chain_id, self.signer.address), self.context.unit_of_work() as session:
            repo = PaymentRepository(session)
            rows = list(repo.pending_of(ids))
            if len(rows) != len(ids):
                return None  # another relayer took some of them: build the batch again
            claim_ids = self._enqueue_claims(session, rows, report)
            entry = self.outbox.enqueue(
                session,
                signer=self.signer,
                intent="payments.batch",
                to=voucher.address,
                data=data,
                gas=_batch_gas(estimate, len(rows), bool(claim_ids)),
                reference=f"payments:{rows[0].id}-{rows[-1].id}",
            )
            for row in rows:
                row.state = PaymentState.SUBMITTED
                row.batch_entry_id = entry.id
            entry_id = entry.id
        report.submitted += len(rows)
        crash_point("after_batch_commit")
        for claim_id in claim_ids:
            self.outbox.broadcast(claim_id)
        self.outbox.broadcast(entry_id)
        return entry_id

    def _estimate(self, data: bytes) -> int | None:
        """The node's gas estimate of a batch, or None when it would revert as a whole."""
        try:
            return self.outbox.estimate(self.signer, self.chain.voucher.address, data)
        except TransactionReverted:
            return None

    def _enqueue_claims(
        self, session: Session, rows: Sequence[PaymentRecord], report: RelayReport
    ) -> list[int]:
        """Claim the open Merkle grants of the batch's payers before the batch needs them."""
        from busanchain.programs.disburse import claim_ticket

        repo = PaymentRepository(session)
        voucher = self.chain.voucher
        entries = []
        for program_id, payer in sorted({(r.program_id, r.payer) for r in rows}):
            for ticket in claim_ticket(session, program_id, payer):
                status = self.chain.read_one(
                    voucher, "leafStatus", [program_id, ticket.round_id, payer, ticket.amount]
                )
                grant = next(
                    (g for g, _ in repo.claimable_grants(program_id, payer) if g.id == ticket[3]),
                    None,
                )
                if grant is None:
                    continue
                if int(status) != 0:
                    grant.state = "claimed" if int(status) == 1 else "revoked"
                    continue
                args = [program_id, ticket.round_id, payer, ticket.amount, ticket.proof]
                entry = self.outbox.enqueue(
                    session,
                    signer=self.signer,
                    intent="payments.claim",
                    to=voucher.address,
                    data=self.chain.calldata(voucher, "claim", args),
                    gas=CLAIM_GAS + 1_000 * len(ticket.proof),
                    reference=f"grant:{grant.id}",
                )
                grant.state = "claiming"
                grant.claim_entry_id = entry.id
                entries.append(entry.id)
                report.claims += 1
        return entries

    # -- settling ----------------------------------------------------------------------------

    def settle_all(self, report: RelayReport) -> None:
        """Settle every batch (and claim) whose transaction is mined or can never be."""
        for entry_id in self._in_flight():
            try:
                self.settle(entry_id, report)
            except ChainError as exc:
                report.errors.append(str(exc))
        self._settle_claims()

    def settle(self, entry_id: int, report: RelayReport) -> None:
        """Record the outcome of every payment of one batch."""
        outcome = self.outbox.refresh(entry_id)
        if outcome.status in OutboxState.OPEN:
            return
        receipt = None
        if outcome.status == OutboxState.CONFIRMED:
            receipt = self.outbox.client.receipt(outcome.tx_hash)
            if receipt is None:
                return  # the node lost the block; the reconciler reopens the entry
        published: dict[int, str] = {}
        with self.context.unit_of_work() as session:
            rows = list(PaymentRepository(session).in_batch(entry_id))
            if receipt is not None:
                self._apply_logs(rows, receipt, report)
            else:
                self._requeue(rows, report)
            published = {r.id: r.state for r in rows if r.state != PaymentState.PENDING}
        _publish(published)

    def _apply_logs(
        self, rows: list[PaymentRecord], receipt: dict[str, Any], report: RelayReport
    ) -> None:
        voucher = self.chain.voucher.address.lower()
        logs = [lg for lg in receipt.get("logs", []) if str(lg["address"]).lower() == voucher]
        failed = {
            int(lg["data"][2:66], 16): int(lg["data"][130:194], 16)
            for lg in logs
            if lg["topics"][0] == FAILED_TOPIC
        }
        paid = [lg for lg in logs if lg["topics"][0] == PAID_TOPIC]
        block = int(receipt["blockNumber"], 16)
        succeeded = [row for i, row in enumerate(rows) if i not in failed]
        if len(succeeded) != len(paid):
            log.error("batch %s: %d Paid for %d rows", rows[0].batch_entry_id, len(paid), len(rows))
        for i, row in enumerate(rows):
            if i in failed:
                row.state, row.reason = PaymentState.FAILED, failed[i]
                report.failed += 1
        for row, event in zip(succeeded, paid, strict=False):
            _confirm(row, event, block)
            report.confirmed += 1

    def _requeue(self, rows: list[PaymentRecord], report: RelayReport) -> None:
        """The whole batch failed: unused nonces go back to pending, used ones are anomalies."""
        voucher = self.chain.voucher
        for row in rows:
            if self.chain.read_one(voucher, "nonceUsed", [row.payer, row.nonce]):
                log.error("payment %s: nonce used outside its batch", row.id)
                row.state, row.reason = PaymentState.FAILED, int(Reason.NONCE_USED)
                report.failed += 1
                continue
            row.state, row.batch_entry_id = PaymentState.PENDING, None
            report.requeued += 1

    def _settle_claims(self) -> None:
        from busanchain.programs.disburse import mark_claimed

        with self.context.unit_of_work() as session:
            grants = [
                (g.id, g.claim_entry_id) for g in PaymentRepository(session).claiming_grants()
            ]
        for grant_id, entry_id in grants:
            assert entry_id is not None
            outcome = self.outbox.refresh(entry_id)
            if outcome.status in OutboxState.OPEN:
                continue
            with self.context.unit_of_work() as session:
                if outcome.status == OutboxState.CONFIRMED:
                    mark_claimed(session, grant_id, entry_id)
                else:
                    grant = session.get(_grant_table(), grant_id)
                    if grant is not None:
                        grant.state, grant.claim_entry_id = "open", None


def _batch_gas(estimate: int | None, count: int, with_claims: bool) -> int:
    """The node's estimate with a margin; payments that wait for a claim in the same block
    fail cheaply in the estimate, so claims add the full price of a payment each."""
    worst = GAS_BASE + GAS_PER_PAYMENT * count
    if estimate is None:
        return worst
    return min(worst, estimate + GAS_PER_PAYMENT * count) if with_claims else estimate


def _grant_table() -> type[Any]:
    from busanchain.programs.tables import GrantRecord

    return GrantRecord


def _payment_tuple(row: PaymentRecord) -> tuple[Any, ...]:
    return (
        row.payer,
        row.program_id,
        row.merchant,
        row.amount,
        bytes.fromhex(row.order_ref[2:]),
        row.nonce,
        row.deadline,
        bytes.fromhex(row.signature[2:]),
    )


def _confirm(row: PaymentRecord, event: dict[str, Any], block: int) -> None:
    from busanchain.payments.service import kst_day

    payer = "0x" + event["topics"][3][-40:]
    if payer.lower() != row.payer.lower():
        log.error("payment %s: Paid names %s, not %s", row.id, payer, row.payer)
    data = event["data"][2:]
    row.state = PaymentState.CONFIRMED
    row.chain_payment_id = int(event["topics"][1], 16)
    row.day = int(data[192:256], 16)
    row.business_day = kst_day(row.day)
    row.block_number = block
    row.confirmed_at = utcnow()


def relay_once(context: PlatformContext, wait_s: float = 30.0) -> int:
    """One relayer pass for tests and scripts: send a batch, wait, settle; payments settled."""
    relayer = Relayer(context)
    total = relayer.run_once(wait_s=wait_s).settled
    return total


def run_relayer(context: PlatformContext, stop: threading.Event, interval_s: float = 0.05) -> None:
    """The relayer loop (a runtime thread): relay until `stop` is set; errors are logged."""
    from busanchain.payments.refunds import RefundService

    relayer = Relayer(context)
    refunds = RefundService(context, relayer.outbox)
    _running.set()
    passes = 0
    try:
        while not stop.is_set():
            passes += 1
            try:
                report = relayer.run_once()
                if passes % 20 == 0:
                    refunds.settle_open()
                busy = report.submitted or report.settled
            except ChainError as exc:
                log.warning("relayer: chain unavailable: %s", exc)
                busy = False
            except Exception:
                log.exception("relayer pass failed")
                busy = False
            if not busy:
                _wake.wait(interval_s)
                _wake.clear()
    finally:
        _running.clear()
