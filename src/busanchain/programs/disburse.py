"""Disbursement rounds: one Merkle root for everyone, or direct batch grants.

A round takes every enrollment of a program not yet in a round. Merkle mode posts one root
of (recipient, amount, roundId) with `postRound`; each recipient claims with a proof on
first use (`claim_ticket` gives the proof). Direct mode mints vouchers with `grantBatch`,
`CHUNK` recipients per transaction (small rounds and late additions).

Crash safety: the round, its grants, the enrollments' round mark and every transaction of
the round (one `postRound`, or one `grantBatch` per chunk, ids in `entry_ids`) are committed
in one database transaction before anything is broadcast. Running the program's rounds
again (`resume`, or `run_round`, which resumes first) only re-broadcasts those identical
signed transactions, so a grant is never lost and never made twice; the contract also
refuses a round id that is taken. Progress is `RoundRecord.done / recipients`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from busanchain.db.base import utcnow
from busanchain.domain.errors import Conflict, NotFound, ValidationFailed
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.service import OutboxService, TxOutcome, crash_point
from busanchain.outbox.tables import OutboxState
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs import repository
from busanchain.programs.fasttree import background_tree
from busanchain.programs.tables import GrantRecord, RoundRecord
from busanchain.vouchers.contracts import VoucherChain
from busanchain.vouchers.merkle import MerkleTree

log = logging.getLogger(__name__)


CHUNK = 200  # recipients per grantBatch: about 10 Mgas, under the 16.7 Mgas per-tx cap
CHUNK_ENV = "BUSANCHAIN_GRANT_CHUNK"  # override (tests use small chunks)
MODES = ("merkle", "direct")
WAIT_S = 60.0
INSERT_CHUNK = 5000
Progress = Callable[[str, int, int], None]


class ClaimTicket(NamedTuple):
    """What a claim needs: round, amount, Merkle proof, and the grant to mark."""

    round_id: int
    amount: int
    proof: list[bytes]
    grant_id: int


@dataclass(frozen=True)
class RoundView:
    """A round and its progress."""

    id: int
    program_id: int
    round_id: int
    mode: str
    root: str | None
    total: int
    recipients: int
    done: int
    state: str
    error: str | None
    entry_ids: list[int]

    @classmethod
    def of(cls, r: RoundRecord) -> RoundView:
        """From a row."""
        return cls(
            r.id,
            r.program_id,
            r.round_id,
            r.mode,
            r.root,
            r.total,
            r.recipients,
            r.done,
            r.state,
            r.error,
            list(r.entry_ids or []),
        )

    @property
    def percent(self) -> int:
        """Progress in whole percent."""
        return 100 if self.recipients == 0 else self.done * 100 // self.recipients

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "program_id": self.program_id,
            "round_id": self.round_id,
            "mode": self.mode,
            "root": self.root,
            "total": self.total,
            "recipients": self.recipients,
            "done": self.done,
            "percent": self.percent,
            "state": self.state,
            "error": self.error,
            "entry_ids": self.entry_ids,
            "status_url": f"/api/programs/{self.program_id}/rounds/{self.round_id}",
        }


_TREES: dict[str, MerkleTree] = {}  # by root: a root names exactly one tree
_TREES_GUARD = threading.Lock()


def _tree(record: RoundRecord) -> MerkleTree:
    with _TREES_GUARD:
        tree = _TREES.get(record.root or "")
        if tree is None:
            if record.tree is None or record.root is None:
                raise NotFound(
                    "This round has no Merkle tree.", "이 회차에는 머클 트리가 없습니다."
                )
            tree = MerkleTree.from_bytes(record.tree)
            if len(_TREES) >= 4:
                _TREES.pop(next(iter(_TREES)))
            _TREES[record.root] = tree
        return tree


def claim_ticket(session: Session, program_id: int, address: str) -> list[ClaimTicket]:
    """Open Merkle grants of `address` (checksummed) in a program, with their proofs.

    Only rounds whose root is confirmed on chain count. Submit
    `claim(programId, ticket.round_id, address, ticket.amount, ticket.proof)`, then call
    `mark_claimed` with the grant id once the `Claimed` event is seen.
    """
    tickets = []
    for grant, record in repository.open_merkle_grants(session, program_id, address):
        proof = _tree(record).proof(grant.leaf_index)
        tickets.append(ClaimTicket(record.round_id, grant.amount, proof, grant.id))
    return tickets


def mark_claimed(session: Session, grant_id: int, entry_id: int | None) -> None:
    """Record that a Merkle grant was claimed on chain (by the outbox entry `entry_id`)."""
    grant = repository.grant(session, grant_id, lock=True)
    if grant is None:
        raise NotFound(f"No grant {grant_id}.", f"지급 {grant_id}이(가) 없습니다.")
    grant.state = "claimed"
    grant.claim_entry_id = entry_id


def grant_for_claim(
    session: Session, program_id: int, round_id: int, address: str
) -> GrantRecord | None:
    """The grant a `Claimed(programId, roundId, recipient, amount)` event settles."""
    record = repository.round_by_number(session, program_id, round_id)
    if record is None:
        return None
    for grant in repository.grants_of(session, program_id, address):
        if grant.round_pk == record.id:
            return grant
    return None


class Disburser:
    """Runs disbursement rounds and revocations; the operator key signs."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self.chain = VoucherChain(context, self.outbox)
        self.operator = operator_signer(context.settings)
        self.chunk = int(context.settings.extra.get(CHUNK_ENV) or 0) or CHUNK

    def lock(self) -> threading.Lock:
        """The operator key's lock (hold it while enqueueing and committing).

        Contract addresses are resolved first: their lookup opens its own unit of work.
        """
        _ = self.chain.voucher
        return key_lock(self.outbox.client.chain_id(), self.operator.address)

    # -- prepare ----------------------------------------------------------------------------

    def prepare(
        self,
        session: Session,
        program_id: int,
        official_user_id: int | None,
        mode: str,
        progress: Progress | None = None,
    ) -> RoundRecord:
        """Create a round of every pending enrollment, with its transactions, in `session`.

        Hold `lock()` and commit before `execute`.

        Raises:
            ValidationFailed: unknown mode. NotFound: no program.
            Conflict: the program is not live, or nobody is waiting, or the budget is short.
        """
        report = progress or (lambda _s, _d, _t: None)
        if mode not in MODES:
            raise ValidationFailed("mode: merkle or direct.", "mode: merkle 또는 direct.")
        program = repository.program(session, program_id, lock=True)
        if program is None:
            raise NotFound(f"No program {program_id}.", f"정책 {program_id}이(가) 없습니다.")
        if program.state != "live":
            raise Conflict(
                "The program is not live on chain yet.", "정책이 아직 체인에 등록되지 않았습니다."
            )
        report("select enrollments", 0, 1)
        pending = repository.pending_enrollments(session, program_id)
        if not pending:
            raise Conflict(
                "Nobody is waiting for a grant in this program.",
                "이 정책에서 지급을 기다리는 대상자가 없습니다.",
            )
        if any(address is None for *_rest, address in pending):
            raise Conflict("A resident has no wallet.", "지갑이 없는 대상자가 있습니다.")
        total = sum(amount for _e, _r, amount, _a in pending)
        self._check_unallocated(program_id, total)
        record = RoundRecord(
            program_id=program_id,
            round_id=repository.max_round_id(session, program_id) + 1,
            mode=mode,
            total=total,
            recipients=len(pending),
            done=0,
            state="posting" if mode == "merkle" else "granting",
            created_by=official_user_id,
            entry_ids=[],
        )
        session.add(record)
        session.flush()
        grants = [(address, amount) for _e, _r, amount, address in pending]
        building = background_tree(grants, record.round_id) if mode == "merkle" else None
        with building or nullcontext(None) as tree:
            report("grants", 0, len(pending))
            self._insert_grants(session, record, pending, report)
            report("mark enrollments", 0, len(pending))
            repository.assign_round(session, program_id, max(e for e, *_ in pending), record.id)
            if tree is not None:
                report("merkle tree", 0, len(grants))
                self._enqueue_root(session, record, tree(), report)
            else:
                self._enqueue_chunks(session, record, grants, report)
        return record

    def _check_unallocated(self, program_id: int, total: int) -> None:
        ledger = self.chain.read_one(self.chain.voucher, "ledger", [program_id])
        available = int(ledger[0]) - int(ledger[1]) - int(ledger[2])
        if total > available:
            raise Conflict(
                f"The round needs {total} won but only {available} won is unallocated.",
                f"이번 회차에 {total:,}원이 필요하지만 배정 가능한 금액은 {available:,}원입니다.",
            )

    def _insert_grants(
        self,
        session: Session,
        record: RoundRecord,
        pending: list[tuple[int, int, int, str]],
        report: Progress,
    ) -> None:
        rows = [
            (record.id, record.program_id, address, amount, index, resident_id, "open")
            for index, (_e, resident_id, amount, address) in enumerate(pending)
        ]
        # In address order the two address indexes fill page after page instead of at
        # random (about half the insert time at a million rows); leaf_index keeps the order.
        rows.sort(key=itemgetter(2))
        columns = ("round_pk", "program_id", "address", "amount", "leaf_index", "resident_id")
        for start in range(0, len(rows), INSERT_CHUNK):
            repository.bulk_insert(
                session, "grants", (*columns, "state"), rows[start : start + INSERT_CHUNK]
            )
            report("grants", min(start + INSERT_CHUNK, len(rows)), len(rows))

    def _enqueue_root(
        self, session: Session, record: RoundRecord, tree: MerkleTree, report: Progress
    ) -> None:
        report("merkle tree", tree.size, tree.size)
        report("sign root", 0, 1)
        record.root = "0x" + tree.root.hex()
        record.tree = tree.to_bytes()
        data = self.chain.calldata(
            self.chain.voucher,
            "postRound",
            [record.program_id, record.round_id, tree.root, record.total],
        )
        entry = self.outbox.enqueue(
            session,
            signer=self.operator,
            intent="program.round",
            to=self.chain.voucher.address,
            data=data,
            reference=f"round:{record.id}",
        )
        record.entry_ids = [entry.id]

    def _enqueue_chunks(
        self,
        session: Session,
        record: RoundRecord,
        grants: list[tuple[str, int]],
        report: Progress,
    ) -> None:
        entry_ids = []
        size = self.chunk
        for start in range(0, len(grants), size):
            chunk = grants[start : start + size]
            data = self.chain.calldata(
                self.chain.voucher,
                "grantBatch",
                [record.program_id, [a for a, _ in chunk], [amount for _, amount in chunk]],
            )
            entry = self.outbox.enqueue(
                session,
                signer=self.operator,
                intent="program.grant_batch",
                to=self.chain.voucher.address,
                data=data,
                reference=f"round:{record.id}:{start // size}",
            )
            entry_ids.append(entry.id)
            report("sign grant batches", start + len(chunk), len(grants))
        record.entry_ids = entry_ids

    def start(
        self,
        program_id: int,
        official_user_id: int | None,
        mode: str = "merkle",
        progress: Progress | None = None,
    ) -> int:
        """Prepare and commit a round; returns its primary key (nothing broadcast yet)."""
        with self.lock(), self.context.unit_of_work() as session:
            record = self.prepare(session, program_id, official_user_id, mode, progress)
            round_pk = record.id
        crash_point("after_round_commit")
        return round_pk

    # -- execute and resume -----------------------------------------------------------------

    def execute(
        self, round_pk: int, progress: Progress | None = None, timeout_s: float = WAIT_S
    ) -> RoundView:
        """Broadcast a committed round and follow it to `done` (or `failed`); re-runnable."""
        report = progress or (lambda _s, _d, _t: None)
        with self.context.unit_of_work() as session:
            record = self._round(session, round_pk)
            if record.state not in ("posting", "granting"):
                return RoundView.of(record)
            entry_ids, recipients = list(record.entry_ids), record.recipients
        report("commit round", 0, 1)
        report("broadcast", 0, len(entry_ids))
        for entry_id in entry_ids:
            self.outbox.broadcast(entry_id)
            crash_point("between_chunks")
        per_entry = -(-recipients // max(len(entry_ids), 1))
        done, failed = 0, None
        for entry_id in entry_ids:
            outcome = self.outbox.wait(entry_id, timeout_s)
            if outcome.status == OutboxState.CONFIRMED:
                done = min(recipients, done + per_entry)
                self._set_progress(round_pk, done)
                report("on chain", done, recipients)
            elif outcome.status in (OutboxState.REVERTED, OutboxState.FAILED):
                failed = outcome
            else:
                return self.view_by_pk(round_pk)  # still pending: resume later
        return self._finish(round_pk, done, failed)

    def _set_progress(self, round_pk: int, done: int) -> None:
        with self.context.unit_of_work() as session:
            self._round(session, round_pk).done = done

    def _finish(self, round_pk: int, done: int, failed: TxOutcome | None) -> RoundView:
        with self.context.unit_of_work() as session:
            record = self._round(session, round_pk, lock=True)
            record.done = done
            record.finished_at = utcnow()
            if failed is None:
                record.state = "done"
                record.done = record.recipients
            else:
                record.state = "failed"
                record.error = (failed.revert_reason or failed.status)[:300]
                log.warning("round %s failed: %s", round_pk, record.error)
            return RoundView.of(record)

    def resume(
        self, program_id: int | None = None, progress: Progress | None = None
    ) -> list[RoundView]:
        """Finish every round committed but not finished (after a crash)."""
        with self.context.unit_of_work() as session:
            pending = [r.id for r in repository.unfinished_rounds(session, program_id)]
        return [self.execute(pk, progress) for pk in pending]

    def run_round(
        self,
        program_id: int,
        official_user_id: int | None = None,
        mode: str = "merkle",
        progress: Progress | None = None,
    ) -> RoundView:
        """Resume unfinished rounds, then disburse to everyone still waiting.

        Returns the new round, or the last resumed one when nobody else was waiting.
        """
        resumed = self.resume(program_id, progress)
        with self.context.unit_of_work() as session:
            waiting = bool(repository.pending_enrollments(session, program_id))
        if not waiting and resumed:
            return resumed[-1]
        round_pk = self.start(program_id, official_user_id, mode, progress)
        return self.execute(round_pk, progress)

    # -- read -------------------------------------------------------------------------------

    def _round(self, session: Session, round_pk: int, lock: bool = False) -> RoundRecord:
        record = repository.round_record(session, round_pk, lock=lock)
        if record is None:
            raise NotFound("No such round.", "해당 회차가 없습니다.")
        return record

    def view_by_pk(self, round_pk: int) -> RoundView:
        """A round by primary key."""
        with self.context.unit_of_work() as session:
            return RoundView.of(self._round(session, round_pk))

    def view(self, program_id: int, round_id: int) -> RoundView:
        """A round by program and round number."""
        with self.context.unit_of_work() as session:
            record = repository.round_by_number(session, program_id, round_id)
            if record is None:
                raise NotFound("No such round.", "해당 회차가 없습니다.")
            return RoundView.of(record)

    def rounds(self, program_id: int) -> list[RoundView]:
        """A program's rounds, newest first."""
        with self.context.unit_of_work() as session:
            return [RoundView.of(r) for r in repository.rounds(session, program_id)]

    # -- revoke -----------------------------------------------------------------------------

    def revoke_grant(self, grant_id: int, timeout_s: float = WAIT_S) -> dict[str, Any]:
        """Revoke a grant before it is claimed (Merkle) or spent (direct).

        Raises:
            NotFound: no such grant. Conflict: already claimed, revoked or in progress.
            TransactionReverted: the chain refuses (claimed or spent meanwhile).
        """
        with self.lock(), self.context.unit_of_work() as session:
            entry_id = self.enqueue_revoke(session, grant_id)
        return self.follow_revoke(grant_id, entry_id, timeout_s)

    def enqueue_revoke(self, session: Session, grant_id: int) -> int:
        """Sign the revocation into the outbox in the caller's session (hold `lock()`)."""
        grant = repository.grant(session, grant_id, lock=True)
        if grant is None:
            raise NotFound(f"No grant {grant_id}.", f"지급 {grant_id}이(가) 없습니다.")
        record = self._round(session, grant.round_pk)
        if grant.state != "open" or record.state != "done":
            raise Conflict(
                f"This grant cannot be revoked now (state {grant.state}).",
                f"지금은 이 지급을 회수할 수 없습니다(상태 {grant.state}).",
            )
        entry = self.outbox.enqueue(
            session,
            signer=self.operator,
            intent="program.revoke",
            to=self.chain.voucher.address,
            data=self._revoke_calldata(grant, record),
            reference=f"grant:{grant.id}:revoke",
        )
        grant.state, grant.claim_entry_id = "revoking", entry.id
        return int(entry.id)

    def follow_revoke(
        self, grant_id: int, entry_id: int, timeout_s: float = WAIT_S
    ) -> dict[str, Any]:
        """Broadcast a committed revocation, wait, and record the outcome (re-runnable)."""
        self.outbox.broadcast(entry_id)
        return self.settle_revoke(grant_id, self.outbox.wait(entry_id, timeout_s))

    def _revoke_calldata(self, grant: GrantRecord, record: RoundRecord) -> bytes:
        voucher = self.chain.voucher
        if record.mode == "merkle":
            proof = _tree(record).proof(grant.leaf_index)
            args = [grant.program_id, record.round_id, grant.address, grant.amount, proof]
            return self.chain.calldata(voucher, "revokeRootGrant", args)
        return self.chain.calldata(
            voucher, "revokeGrant", [grant.program_id, grant.address, grant.amount]
        )

    def settle_revoke(self, grant_id: int, outcome: TxOutcome) -> dict[str, Any]:
        """Record a revocation's outcome on its grant."""
        with self.context.unit_of_work() as session:
            grant = repository.grant(session, grant_id, lock=True)
            assert grant is not None
            if outcome.status == OutboxState.CONFIRMED:
                grant.state = "revoked"
            elif outcome.status in (OutboxState.REVERTED, OutboxState.FAILED):
                grant.state = "open"
            return {
                "grant_id": grant.id,
                "state": grant.state,
                "tx_hash": outcome.tx_hash,
                "status": outcome.status,
                "revert_reason": outcome.revert_reason,
            }
