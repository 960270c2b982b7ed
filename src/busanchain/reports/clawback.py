"""Expiry clawback: send an expired program's unspent backing to the treasury, once.

`PolicyVoucher.withdrawExpired(programId)` is O(1) (no loop over holders; balances already
read 0 after expiry) and may be called by anyone, once. Here an official asks for it: the
chain's clock must be past expiry; the transaction goes through the outbox (committed before
broadcast); the amount, transaction hash and block come from the `ExpiredWithdrawn` event.
If the chain says the backing was already withdrawn (by this platform or anyone else), the
withdrawal is only recorded, from the event log, and nothing is sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session

from busanchain.db.base import utcnow
from busanchain.domain.errors import Conflict, NotFound, TransactionReverted
from busanchain.idempotency.service import IdempotencyService, parse_key
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.service import crash_point
from busanchain.outbox.tables import OutboxState
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs.tables import ProgramRecord
from busanchain.reports.tables import ClawbackRecord, ClawbackState
from busanchain.vouchers.contracts import VoucherChain

EXPIRED_WITHDRAWN_TOPIC = "0x" + keccak(text="ExpiredWithdrawn(uint256,uint256)").hex()
WAIT_FOR_RECEIPT_S = 15.0
INTENT = "reports.withdraw_expired"
_STATUS = {ClawbackState.CONFIRMED: 200, ClawbackState.FAILED: 422}


@dataclass(frozen=True)
class ClawbackOutcome:
    """Where a program's clawback stands."""

    program_id: int
    state: str
    amount: int | None
    tx_hash: str | None
    block_number: int | None
    operation_id: int | None
    already_withdrawn: bool = False

    @property
    def http_status(self) -> int:
        """200 confirmed, 422 failed, 202 still pending."""
        return _STATUS.get(self.state, 202)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def of(cls, record: ClawbackRecord, already: bool = False) -> ClawbackOutcome:
        """From a stored row."""
        return cls(
            record.program_id,
            record.state,
            record.amount,
            record.tx_hash,
            record.block_number,
            record.entry_id,
            already,
        )


@dataclass(frozen=True)
class WithdrawnLog:
    """An ExpiredWithdrawn event."""

    amount: int
    tx_hash: str
    block_number: int


def _hex_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def parse_withdrawn(
    logs: list[dict[str, Any]], voucher: str, program_id: int
) -> WithdrawnLog | None:
    """The ExpiredWithdrawn event of `program_id` among raw JSON-RPC logs, if any."""
    for log in logs:
        topics = [str(t).lower() for t in log.get("topics", [])]
        if (
            str(log.get("address", "")).lower() == voucher.lower()
            and len(topics) == 2
            and topics[0] == EXPIRED_WITHDRAWN_TOPIC
            and int(topics[1], 16) == program_id
        ):
            return WithdrawnLog(
                _hex_int(log["data"]),
                str(log["transactionHash"]).lower(),
                _hex_int(log["blockNumber"]),
            )
    return None


class ClawbackService:
    """Withdraws expired programs' backing and records it for the clawback report."""

    def __init__(self, context: PlatformContext, chain: VoucherChain | None = None) -> None:
        self.context = context
        self.chain = chain or VoucherChain(context)
        self.outbox = self.chain.outbox

    # -- chain facts ---------------------------------------------------------------------------

    def _rules(self, program_id: int) -> tuple[Any, ...]:
        (rules,) = self.chain.read(self.chain.voucher, "program", [program_id])
        if int(rules[5]) == 0:
            raise NotFound(
                f"Program {program_id} does not exist on chain.",
                f"{program_id}번 지원 사업이 체인에 없습니다.",
            )
        return tuple(rules)

    def require_expired(self, program_id: int) -> bool:
        """Whether already withdrawn on chain; Conflict if not expired by the chain's clock."""
        rules = self._rules(program_id)
        expiry, now = int(rules[5]), self.chain.chain_time()
        if now < expiry:
            when = datetime.fromtimestamp(expiry, UTC).isoformat()
            raise Conflict(
                f"Program {program_id} has not expired yet (expires {when}).",
                f"{program_id}번 지원 사업은 아직 만료되지 않았습니다(만료 {when}).",
                expiry=expiry,
                chain_time=now,
            )
        return bool(rules[9])

    def find_log(self, program_id: int) -> WithdrawnLog | None:
        """The program's ExpiredWithdrawn event, searched on chain."""
        voucher = self.chain.voucher.address
        logs = self.outbox.client.request(
            "eth_getLogs",
            [
                {
                    "address": voucher,
                    "fromBlock": "0x0",
                    "toBlock": "latest",
                    "topics": [
                        EXPIRED_WITHDRAWN_TOPIC,
                        "0x" + program_id.to_bytes(32, "big").hex(),
                    ],
                }
            ],
        )
        return parse_withdrawn(list(logs or []), voucher, program_id)

    # -- database --------------------------------------------------------------------------------

    @staticmethod
    def _record(session: Session, program_id: int) -> ClawbackRecord | None:
        query = select(ClawbackRecord).where(ClawbackRecord.program_id == program_id)
        return session.scalars(query).first()

    @staticmethod
    def _confirm(record: ClawbackRecord, log: WithdrawnLog) -> None:
        record.state = ClawbackState.CONFIRMED
        record.amount, record.tx_hash, record.block_number = (
            log.amount,
            log.tx_hash,
            log.block_number,
        )
        record.confirmed_at = record.confirmed_at or utcnow()

    def record_withdrawn(self, program_id: int, user_id: int | None) -> ClawbackOutcome:
        """Record a withdrawal that already happened on chain (found from its event)."""
        log = self.find_log(program_id)
        with self.context.unit_of_work() as session:
            return self._record_log(session, program_id, user_id, log)

    def _record_log(
        self, session: Session, program_id: int, user_id: int | None, log: WithdrawnLog | None
    ) -> ClawbackOutcome:
        record = self._record(session, program_id)
        if record is None:
            record = ClawbackRecord(program_id=program_id, requested_by=user_id)
            session.add(record)
        if log is not None:
            self._confirm(record, log)
        session.flush()
        return ClawbackOutcome.of(record, already=True)

    def enqueue(self, session: Session, program_id: int, user_id: int | None) -> ClawbackRecord:
        """Put withdrawExpired in the outbox (in the caller's unit of work), unless a pending or
        confirmed clawback of this program is already recorded."""
        record = self._record(session, program_id)
        if record is not None and record.state != ClawbackState.FAILED:
            return record
        operator = operator_signer(self.context.settings)
        voucher = self.chain.voucher
        entry = self.outbox.enqueue(
            session,
            signer=operator,
            intent=INTENT,
            to=voucher.address,
            data=self.chain.calldata(voucher, "withdrawExpired", [program_id]),
            reference=f"program:{program_id}",
        )
        if record is None:
            record = ClawbackRecord(program_id=program_id)
            session.add(record)
        record.state, record.entry_id, record.requested_by = (
            ClawbackState.PENDING,
            entry.id,
            user_id,
        )
        session.flush()
        return record

    def finish(self, program_id: int, timeout_s: float = WAIT_FOR_RECEIPT_S) -> ClawbackOutcome:
        """Broadcast the pending clawback, wait for it and record the event's figures."""
        with self.context.unit_of_work() as session:
            record = self._record(session, program_id)
            if record is None:
                raise NotFound("No clawback recorded.", "회수 기록이 없습니다.")
            if record.state != ClawbackState.PENDING or record.entry_id is None:
                return ClawbackOutcome.of(record)
            entry_id = record.entry_id
        self.outbox.broadcast(entry_id)
        outcome = self.outbox.wait(entry_id, timeout_s)
        log = None
        if outcome.status == OutboxState.CONFIRMED:
            receipt = self.outbox.client.receipt(outcome.tx_hash) or {}
            log = parse_withdrawn(receipt.get("logs", []), self.chain.voucher.address, program_id)
        elif outcome.status in (OutboxState.REVERTED, OutboxState.FAILED):
            log = self.find_log(program_id)  # someone else may have withdrawn first
        with self.context.unit_of_work() as session:
            record = self._record(session, program_id)
            if record is None:
                raise NotFound("No clawback recorded.", "회수 기록이 없습니다.")
            if log is not None:
                self._confirm(record, log)
            elif outcome.status in (OutboxState.REVERTED, OutboxState.FAILED):
                record.state = ClawbackState.FAILED
            session.flush()
            result = ClawbackOutcome.of(record)
        if result.state == ClawbackState.FAILED:
            reason = outcome.revert_reason or "unknown"
            raise TransactionReverted(
                f"The withdrawal was reverted: {reason}",
                f"회수 거래가 거부되었습니다: {reason}",
                reason=reason,
                tx_hash=outcome.tx_hash,
            )
        return result

    # -- use cases -------------------------------------------------------------------------------

    def withdraw(self, program_id: int, user_id: int | None) -> ClawbackOutcome:
        """Withdraw once (no Idempotency-Key: the chain's `withdrawn` flag and the unique row
        make a repeat harmless)."""
        if self.require_expired(program_id):
            return self.record_withdrawn(program_id, user_id)
        operator = operator_signer(self.context.settings)
        with (
            key_lock(self.outbox.client.chain_id(), operator.address),
            self.context.unit_of_work() as session,
        ):
            self.enqueue(session, program_id, user_id)
        crash_point("after_outbox_commit")
        return self.finish(program_id)

    def submit_once(
        self, program_id: int, user_id: int, key: str | None, scope: str, fingerprint: str
    ) -> tuple[int, dict[str, Any]]:
        """The HTTP path: exactly once per Idempotency-Key; returns (status, answer)."""
        checked = parse_key(key)
        already = self.require_expired(program_id)
        log = self.find_log(program_id) if already else None
        idem = IdempotencyService(self.context)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            if already:  # nothing to send: record what the chain says
                done = self._record_log(session, program_id, user_id, log)
                return done.http_status, done.as_dict()
            return 202, ClawbackOutcome.of(self.enqueue(session, program_id, user_id)).as_dict()

        operator = operator_signer(self.context.settings)
        with key_lock(self.outbox.client.chain_id(), operator.address):
            stored = idem.run(scope, checked, fingerprint, work)
        if stored.replayed or already:
            return stored.status_code, stored.body
        crash_point("after_outbox_commit")
        try:
            result = self.finish(program_id)
        except TransactionReverted as exc:
            body = {"program_id": program_id, "state": ClawbackState.FAILED, **exc.details}
            idem.update_answer(scope, checked, 422, body)
            raise
        idem.update_answer(scope, checked, result.http_status, result.as_dict())
        return result.http_status, result.as_dict()

    def records(self) -> dict[int, ClawbackOutcome]:
        """Every recorded clawback by program id."""
        with self.context.unit_of_work() as session:
            rows = session.scalars(select(ClawbackRecord).order_by(ClawbackRecord.program_id))
            return {r.program_id: ClawbackOutcome.of(r) for r in rows}


@dataclass(frozen=True)
class ClawbackRow:
    """One line of the expiry-clawback report; amounts before the withdrawal when withdrawn."""

    program_id: int
    name_ko: str
    name_en: str
    expires_at: datetime
    status: str  # live / expired / withdrawn
    locked: int
    unspent: int
    unclaimed: int
    withdrawn: int
    tx_hash: str | None
    block_number: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        return data


def clawback_report(
    context: PlatformContext, chain: VoucherChain | None = None
) -> list[ClawbackRow]:
    """Every program on chain: expiry, what was locked, unspent and unclaimed (just before the
    withdrawal when there was one), the amount withdrawn and its transaction."""
    service = ClawbackService(context, chain)
    voucher = service.chain.voucher
    with context.unit_of_work() as session:
        programs = [
            (p.id, p.name_ko, p.name_en)
            for p in session.scalars(select(ProgramRecord).order_by(ProgramRecord.id))
        ]
    records = service.records()
    rows = []
    for program_id, name_ko, name_en in programs:
        (rules,) = service.chain.read(voucher, "program", [program_id])
        if int(rules[5]) == 0:
            continue
        expired = service.chain.chain_time() >= int(rules[5])
        known = records.get(program_id)
        tx_hash, block = (known.tx_hash, known.block_number) if known else (None, None)
        if bool(rules[9]) and block is None:
            log = service.find_log(program_id)
            tx_hash, block = (log.tx_hash, log.block_number) if log else (None, None)
        at: int | str = block - 1 if bool(rules[9]) and block else "latest"
        (before,) = service.chain.read(voucher, "ledger", [program_id], at)
        (now,) = service.chain.read(voucher, "ledger", [program_id])
        status = "withdrawn" if rules[9] else ("expired" if expired else "live")
        rows.append(
            ClawbackRow(
                program_id,
                name_ko,
                name_en,
                datetime.fromtimestamp(int(rules[5]), UTC),
                status,
                int(before[0]),
                int(before[1]),
                int(before[2]),
                int(now[5]),
                tx_hash,
                block,
            )
        )
    return rows


def withdraw_expired(
    context: PlatformContext, program_id: int, official_user_id: int | None
) -> ClawbackOutcome:
    """Send an expired program's backing to the treasury (or record that it was sent)."""
    return ClawbackService(context).withdraw(program_id, official_user_id)
