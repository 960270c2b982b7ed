"""Allowance programs: create (draft or published), publish to chain, edit, read.

Publishing locks the budget on chain in three operator transactions, all signed and
committed to the outbox together with the program row (state `creating`) before anything
is broadcast: mint `budget` DigitalWon to the operator against the city's budget deposit,
approve PolicyVoucher, and `createProgram`. `finish` is idempotent: it re-broadcasts what is
still open and marks the program `live` once `program(id).expiry != 0` on chain.

On-chain rules (budget, amounts, caps, dates, categories, districts) are fixed once the
program is published: the contract has no update. Names and the eligibility age range live
only in the database and may always be edited; a draft may be edited freely.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from busanchain.domain.errors import Conflict, NotFound, ValidationFailed
from busanchain.idempotency.service import IdempotencyService, StoredResponse
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.repository import OutboxRepository
from busanchain.outbox.service import OutboxService, crash_point
from busanchain.outbox.tables import OutboxState
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs import repository
from busanchain.programs.residents import mask_name, open_resident
from busanchain.programs.rules import (
    OFF_CHAIN_FIELDS,
    ProgramFields,
    clean_text,
    parse_ages,
    parse_program,
)
from busanchain.programs.tables import ImportRecord, ProgramRecord
from busanchain.token.service import deposit_reference
from busanchain.vouchers.contracts import VoucherChain

CREATE_GAS_BASE = 450_000
CREATE_GAS_PER_CODE = 30_000
WAIT_S = 30.0
STEPS = ("mint", "approve", "create")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ProgramView:
    """A program as officials and auditors see it."""

    id: int
    kind: str
    name_ko: str
    name_en: str
    budget: int
    per_person_amount: int
    per_payment_cap: int
    daily_cap: int
    starts_at: datetime
    expires_at: datetime
    allowed_categories: list[int]
    blocked_categories: list[int]
    allowed_districts: list[int]
    min_age: int | None
    max_age: int | None
    state: str
    created_by: int | None
    ledger: dict[str, int] | None = None

    @classmethod
    def of(cls, record: ProgramRecord, ledger: dict[str, int] | None = None) -> ProgramView:
        """From a row."""
        return cls(
            id=record.id,
            kind=record.kind,
            name_ko=record.name_ko,
            name_en=record.name_en,
            budget=record.budget,
            per_person_amount=record.per_person_amount,
            per_payment_cap=record.per_payment_cap,
            daily_cap=record.daily_cap,
            starts_at=_aware(record.starts_at),
            expires_at=_aware(record.expires_at),
            allowed_categories=list(record.allowed_categories or []),
            blocked_categories=list(record.blocked_categories or []),
            allowed_districts=list(record.allowed_districts or []),
            min_age=record.min_age,
            max_age=record.max_age,
            state=record.state,
            created_by=record.created_by,
            ledger=ledger,
        )

    def name(self, lang: str) -> str:
        """The name in the user's language."""
        return self.name_en if lang == "en" else self.name_ko

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = dataclasses.asdict(self)
        out["starts_at"] = self.starts_at.isoformat()
        out["expires_at"] = self.expires_at.isoformat()
        return out


def _apply(record: ProgramRecord, fields: ProgramFields) -> None:
    for key, value in dataclasses.asdict(fields).items():
        setattr(record, key, value)


def _rules_fixed() -> Conflict:
    return Conflict(
        "On-chain rules (budget, amounts, caps, dates, categories, districts) are fixed once "
        "the program is published; only the names and the age range can change.",
        "공개(체인 등록)된 정책의 체인 규칙(예산, 금액, 한도, 기간, 업종, 지역)은 바꿀 수 "
        "없습니다. 이름과 나이 범위만 수정할 수 있습니다.",
    )


class ProgramService:
    """Programs for one platform context; the operator key signs every chain write."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self.chain = VoucherChain(context, self.outbox)
        self.operator = operator_signer(context.settings)

    # -- create and publish -----------------------------------------------------------------

    def validate(self, data: Mapping[str, Any]) -> ProgramFields:
        """Check a program's fields against the rules and the chain's clock."""
        return parse_program(data, self.chain.chain_time())

    def create(
        self, official_user_id: int | None, data: Mapping[str, Any], publish: bool = True
    ) -> ProgramView:
        """Create a program; with `publish` its budget is locked on chain before returning.

        Raises:
            ValidationFailed: a field breaks a rule (422, ko/en, `field` in the details).
            TransactionReverted / ChainError: the chain refused or is unreachable.
        """
        fields = self.validate(data)
        with self._lock(), self.context.unit_of_work() as session:
            program_id = self.add(session, official_user_id, fields, publish)
        crash_point("after_program_commit")
        return self.finish(program_id) if publish else self.get(program_id)

    def create_once(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        official_user_id: int | None,
        data: Mapping[str, Any],
        publish: bool = True,
    ) -> StoredResponse:
        """`create` exactly once per Idempotency-Key (the key commits with the program)."""
        fields = self.validate(data)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            program_id = self.add(session, official_user_id, fields, publish)
            return 202, {"id": program_id, "state": "creating" if publish else "draft"}

        with self._lock():
            stored = IdempotencyService(self.context).run(scope, key, fingerprint, work)
        program_id = int(stored.body["id"])
        view = self.finish(program_id) if publish else self.get(program_id)
        return StoredResponse(201, view.as_dict(), stored.replayed)

    def _lock(self) -> Any:
        """The operator's key lock; contract addresses are resolved first (their lookup
        opens its own unit of work, which must not nest inside ours on SQLite)."""
        _ = self.chain.token, self.chain.voucher
        return key_lock(self.outbox.client.chain_id(), self.operator.address)

    def add(
        self, session: Session, official_user_id: int | None, fields: ProgramFields, publish: bool
    ) -> int:
        """Insert a program (and, to publish, its three transactions) in the caller's session.

        Call it while holding the operator's key lock; the caller commits.
        """
        program_id = self._free_id(session)
        record = ProgramRecord(id=program_id, state="draft", created_by=official_user_id)
        _apply(record, fields)
        session.add(record)
        session.flush()
        if publish:
            self._enqueue_publish(session, record)
        return program_id

    def _free_id(self, session: Session) -> int:
        candidate = repository.max_program_id(session) + 1
        while self.chain.read_one(self.chain.voucher, "program", [candidate])[5] != 0:
            candidate += 1  # taken on chain by an earlier database (same contracts)
        return candidate

    def _enqueue_publish(self, session: Session, record: ProgramRecord) -> None:
        token, voucher = self.chain.token, self.chain.voucher
        pid = record.id
        calls = [
            (
                "mint",
                token.address,
                self.chain.calldata(
                    token,
                    "mint",
                    [self.operator.address, record.budget, deposit_reference(f"program-{pid}")],
                ),
                None,
            ),
            (
                "approve",
                token.address,
                self.chain.calldata(token, "approve", [voucher.address, record.budget]),
                None,
            ),
            ("create", voucher.address, self._create_calldata(record), self._create_gas(record)),
        ]
        entry_id = None
        for step, to, data, gas in calls:
            entry = self.outbox.enqueue(
                session,
                signer=self.operator,
                intent=f"program.{step}",
                to=to,
                data=data,
                gas=gas,
                reference=f"program:{pid}:{step}",
            )
            entry_id = entry.id
        record.state = "creating"
        record.entry_id = entry_id

    def _create_calldata(self, record: ProgramRecord) -> bytes:
        params = (
            record.budget,
            record.per_person_amount,
            record.per_payment_cap,
            record.daily_cap,
            int(_aware(record.starts_at).timestamp()),
            int(_aware(record.expires_at).timestamp()),
            list(record.allowed_categories or []),
            list(record.blocked_categories or []),
            list(record.allowed_districts or []),
        )
        return self.chain.calldata(self.chain.voucher, "createProgram", [record.id, params])

    @staticmethod
    def _create_gas(record: ProgramRecord) -> int:
        codes = (
            len(record.allowed_categories or [])
            + len(record.blocked_categories or [])
            + len(record.allowed_districts or [])
        )
        return CREATE_GAS_BASE + CREATE_GAS_PER_CODE * codes

    def publish(self, program_id: int) -> ProgramView:
        """Lock a draft's budget on chain (idempotent for programs already published)."""
        with self._lock(), self.context.unit_of_work() as session:
            self.publish_in(session, program_id)
        return self.finish(program_id)

    def publish_once(self, scope: str, key: str, fingerprint: str, program_id: int) -> ProgramView:
        """`publish` once per Idempotency-Key (the key commits with the transactions)."""

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            self.publish_in(session, program_id)
            return 202, {"id": program_id}

        with self._lock():
            IdempotencyService(self.context).run(scope, key, fingerprint, work)
        return self.finish(program_id)

    def publish_in(self, session: Session, program_id: int) -> None:
        """Enqueue a draft's publication in the caller's session (hold the key lock)."""
        record = self._record(session, program_id, lock=True)
        if record.state != "draft":
            return
        if _aware(record.expires_at).timestamp() <= self.chain.chain_time():
            raise ValidationFailed(
                "expires_at: must be in the future.", "expires_at: 미래 시점이어야 합니다."
            )
        self._enqueue_publish(session, record)

    def finish(self, program_id: int, timeout_s: float = WAIT_S) -> ProgramView:
        """Drive a `creating` program to `live` (or `failed`); safe to run again any time."""
        with self.context.unit_of_work() as session:
            record = self._record(session, program_id)
            if record.state != "creating":
                return ProgramView.of(record)
            repo = OutboxRepository(session)
            ids = [repo.by_reference(f"program:{program_id}:{step}") for step in STEPS]
            entry_ids = [e.id for e in ids if e is not None]
        for entry_id in entry_ids:
            self.outbox.broadcast(entry_id)
        outcome = self.outbox.wait(entry_ids[-1], timeout_s) if entry_ids else None
        live = self.chain.read_one(self.chain.voucher, "program", [program_id])[5] != 0
        with self.context.unit_of_work() as session:
            record = self._record(session, program_id, lock=True)
            if live:
                record.state = "live"
            elif outcome is not None and outcome.status in (
                OutboxState.REVERTED,
                OutboxState.FAILED,
            ):
                record.state = "failed"
            return ProgramView.of(record)

    def finish_all(self) -> int:
        """Finish every program left `creating` (after a crash); returns how many went live."""
        with self.context.unit_of_work() as session:
            pending = [p.id for p in repository.programs(session) if p.state == "creating"]
        return sum(1 for pid in pending if self.finish(pid).state == "live")

    # -- edit and read ------------------------------------------------------------------------

    def edit(self, program_id: int, data: Mapping[str, Any]) -> ProgramView:
        """Change a program: names and ages always; every field while it is a draft.

        Raises:
            Conflict: an on-chain rule of a published program was to change.
        """
        with self.context.unit_of_work() as session:
            record = self._record(session, program_id, lock=True)
            current = ProgramView.of(record).as_dict()
            changed = {k for k, v in data.items() if k in current and current[k] != v}
            if record.state == "draft":
                merged = {**current, **{k: v for k, v in data.items() if k in current}}
                _apply(record, self.validate(merged))
            elif changed - set(OFF_CHAIN_FIELDS):
                raise _rules_fixed()
            else:
                self._edit_off_chain(record, data)
            return ProgramView.of(record)

    @staticmethod
    def _edit_off_chain(record: ProgramRecord, data: Mapping[str, Any]) -> None:
        for key in ("name_ko", "name_en"):
            if key in data:
                value = clean_text(str(data[key] or ""), 100)
                if not value:
                    raise ValidationFailed(
                        f"{key}: a name of 1-100 characters is required.",
                        f"{key}: 1~100자의 이름이 필요합니다.",
                        field=key,
                    )
                setattr(record, key, value)
        ages = {"min_age": record.min_age, "max_age": record.max_age}
        ages.update({k: data[k] for k in ("min_age", "max_age") if k in data})
        record.min_age, record.max_age = parse_ages(ages, record.kind)

    def _record(self, session: Session, program_id: int, lock: bool = False) -> ProgramRecord:
        record = repository.program(session, program_id, lock=lock)
        if record is None:
            raise NotFound(f"No program {program_id}.", f"정책 {program_id}이(가) 없습니다.")
        return record

    def get(self, program_id: int) -> ProgramView:
        """One program (database only)."""
        with self.context.unit_of_work() as session:
            return ProgramView.of(self._record(session, program_id))

    def list(self) -> list[ProgramView]:
        """Every program, newest first (database only)."""
        with self.context.unit_of_work() as session:
            return [ProgramView.of(r) for r in repository.programs(session)]

    def ledger(self, program_id: int) -> dict[str, int]:
        """The program's money on chain: locked, unspent, unclaimed, unallocated, paid out."""
        locked, unspent, unclaimed, paid, refunded, withdrawn = self.chain.read_one(
            self.chain.voucher, "ledger", [program_id]
        )
        return {
            "locked": int(locked),
            "unspent": int(unspent),
            "unclaimed": int(unclaimed),
            "unallocated": int(locked) - int(unspent) - int(unclaimed),
            "paid_out": int(paid),
            "refunded": int(refunded),
            "withdrawn": int(withdrawn),
        }

    def program_view(self, program_id: int) -> ProgramView:
        """One program with its on-chain ledger (None while it is not live)."""
        view = self.get(program_id)
        if view.state != "live":
            return view
        return dataclasses.replace(view, ledger=self.ledger(program_id))

    def list_with_ledgers(self) -> builtins.list[ProgramView]:
        """Every program, live ones with their on-chain ledger."""
        return [self.program_view(p.id) if p.state == "live" else p for p in self.list()]

    # -- residents and imports ------------------------------------------------------------

    def enrolled_count(self, program_id: int) -> int:
        """How many residents are enrolled in a program."""
        with self.context.unit_of_work() as session:
            return repository.enrollment_count(session, program_id)

    def imports(self, program_id: int, limit: int = 20) -> builtins.list[dict[str, Any]]:
        """The latest imports of a program, with their per-row reports."""
        with self.context.unit_of_work() as session:
            return [import_dict(i) for i in repository.imports(session, program_id, limit)]

    def import_report(self, program_id: int, import_id: int) -> dict[str, Any]:
        """One import and its per-row report."""
        with self.context.unit_of_work() as session:
            record = repository.import_record(session, program_id, import_id)
            if record is None:
                raise NotFound("No such import.", "해당 가져오기 기록이 없습니다.")
            return import_dict(record)

    def enrollments(
        self, program_id: int, offset: int, limit: int, show_names: bool
    ) -> builtins.list[dict[str, Any]]:
        """A page of enrolled residents; names masked (김*수), and only if `show_names`."""
        out = []
        with self.context.unit_of_work() as session:
            for enrollment, resident in repository.enrollments_page(
                session, program_id, offset, limit
            ):
                personal = open_resident(self.context, resident) if show_names else None
                name = mask_name(personal["name"]) if personal else None
                out.append(
                    {
                        "enrollment_id": enrollment.id,
                        "resident_id": resident.id,
                        "name": name,
                        "district": resident.district,
                        "birth_year": resident.birth_date.year,
                        "amount": enrollment.amount,
                        "round_pk": enrollment.round_pk,
                        "wallet": resident.wallet_address,
                        "linked_user": resident.user_id is not None,
                    }
                )
        return out


def import_dict(record: ImportRecord) -> dict[str, Any]:
    """An import record, JSON-ready."""
    return {
        "id": record.id,
        "program_id": record.program_id,
        "filename": record.filename,
        "rows": record.rows,
        "state": record.state,
        "errors": record.errors,
        "created_at": record.created_at.isoformat(),
    }
