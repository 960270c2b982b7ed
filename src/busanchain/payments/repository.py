"""Queries of the payments feature (the services own the transactions; nothing here commits)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from busanchain.merchants.tables import MerchantRecord
from busanchain.outbox.tables import OutboxEntry
from busanchain.payments.tables import PayerNonce, PaymentRecord, PaymentState, RefundRecord
from busanchain.programs.tables import GrantRecord, ProgramRecord, RoundRecord

OPEN_STATES = (PaymentState.PENDING, PaymentState.SUBMITTED)
CLAIMABLE_GRANT_STATES = ("open", "claiming")


class PaymentRepository:
    """Payments, payer nonces, refunds, and the merchant and program rows they point at."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- payments ---------------------------------------------------------------------------

    def get(self, payment_id: int, lock: bool = False) -> PaymentRecord | None:
        """One payment by id."""
        return self.session.get(PaymentRecord, payment_id, with_for_update=lock)

    def add(self, record: PaymentRecord) -> PaymentRecord:
        """Insert a payment and give it its id."""
        self.session.add(record)
        self.session.flush()
        return record

    def open_sum(self, payer: str, program_id: int) -> int:
        """What `payer` has promised in a program but is not yet settled on chain."""
        total = self.session.scalar(
            select(func.coalesce(func.sum(PaymentRecord.amount), 0)).where(
                PaymentRecord.payer == payer,
                PaymentRecord.program_id == program_id,
                PaymentRecord.state.in_(OPEN_STATES),
            )
        )
        return int(total or 0)

    def pending(self, limit: int) -> Sequence[PaymentRecord]:
        """Payments waiting for the relayer, oldest first."""
        return self.session.scalars(
            select(PaymentRecord)
            .where(PaymentRecord.state == PaymentState.PENDING)
            .order_by(PaymentRecord.id)
            .limit(limit)
        ).all()

    def pending_of(self, ids: Sequence[int]) -> Sequence[PaymentRecord]:
        """Those of the given payments that are still pending, by id."""
        return self.session.scalars(
            select(PaymentRecord)
            .where(PaymentRecord.id.in_(ids), PaymentRecord.state == PaymentState.PENDING)
            .order_by(PaymentRecord.id)
        ).all()

    def in_flight_entries(self) -> list[int]:
        """Outbox entries of batches whose payments are not settled yet."""
        rows = self.session.scalars(
            select(PaymentRecord.batch_entry_id)
            .where(
                PaymentRecord.state == PaymentState.SUBMITTED,
                PaymentRecord.batch_entry_id.is_not(None),
            )
            .distinct()
        ).all()
        return sorted(int(r) for r in rows if r is not None)

    def in_batch(self, entry_id: int) -> Sequence[PaymentRecord]:
        """The payments of one batch, in the order they were put in it (by id)."""
        return self.session.scalars(
            select(PaymentRecord)
            .where(
                PaymentRecord.batch_entry_id == entry_id,
                PaymentRecord.state == PaymentState.SUBMITTED,
            )
            .order_by(PaymentRecord.id)
        ).all()

    def of_payer_user(
        self, user_id: int, program_id: int | None = None, limit: int = 50
    ) -> Sequence[PaymentRecord]:
        """A citizen's payments, newest first."""
        query = select(PaymentRecord).where(PaymentRecord.payer_user_id == user_id)
        if program_id is not None:
            query = query.where(PaymentRecord.program_id == program_id)
        return self.session.scalars(query.order_by(PaymentRecord.id.desc()).limit(limit)).all()

    def of_merchants(
        self, merchant_ids: Sequence[int], since_id: int = 0, limit: int = 100
    ) -> Sequence[PaymentRecord]:
        """Payments to the given merchants with an id above `since_id`, newest first."""
        if not merchant_ids:
            return []
        return self.session.scalars(
            select(PaymentRecord)
            .where(PaymentRecord.merchant_id.in_(merchant_ids), PaymentRecord.id > since_id)
            .order_by(PaymentRecord.id.desc())
            .limit(limit)
        ).all()

    def spent(self, user_id: int, program_id: int) -> tuple[int, int]:
        """(confirmed amount paid, amount refunded) of a citizen in a program."""
        row = self.session.execute(
            select(
                func.coalesce(func.sum(PaymentRecord.amount), 0),
                func.coalesce(func.sum(PaymentRecord.refunded), 0),
            ).where(
                PaymentRecord.payer_user_id == user_id,
                PaymentRecord.program_id == program_id,
                PaymentRecord.state == PaymentState.CONFIRMED,
            )
        ).one()
        return int(row[0]), int(row[1])

    # -- nonces -----------------------------------------------------------------------------

    def nonce_row(self, payer: str, lock: bool = False) -> PayerNonce | None:
        """The nonce cursor of a payer (locked for the transaction when asked)."""
        return self.session.get(PayerNonce, payer, with_for_update=lock)

    def next_nonce(self, payer: str) -> int:
        """The next nonce to sign with (without taking it)."""
        row = self.nonce_row(payer)
        return row.next_nonce if row is not None else 0

    def take_nonce(self, payer: str, expected: int) -> bool:
        """Advance the payer's cursor from `expected`; False if someone else moved it."""
        row = self.nonce_row(payer, lock=True)
        if row is None:
            if expected != 0:
                return False
            try:  # a concurrent first payment (another process) may insert the row first
                with self.session.begin_nested():
                    self.session.add(PayerNonce(payer=payer, next_nonce=1))
                    self.session.flush()
            except IntegrityError:
                return False
            return True
        if row.next_nonce != expected:
            return False
        row.next_nonce = expected + 1
        return True

    # -- refunds ----------------------------------------------------------------------------

    def add_refund(self, record: RefundRecord) -> RefundRecord:
        """Insert a refund and give it its id."""
        self.session.add(record)
        self.session.flush()
        return record

    def refund(self, refund_id: int) -> RefundRecord | None:
        """One refund by id."""
        return self.session.get(RefundRecord, refund_id)

    def refunds_of(self, payment_ids: Sequence[int]) -> Sequence[RefundRecord]:
        """Refunds of the given payments, oldest first."""
        if not payment_ids:
            return []
        return self.session.scalars(
            select(RefundRecord)
            .where(RefundRecord.payment_id.in_(payment_ids))
            .order_by(RefundRecord.id)
        ).all()

    # -- other features' rows (read directly) ------------------------------------------------

    def merchant_by_code(self, code: str) -> MerchantRecord | None:
        """A merchant by its public code."""
        return self.session.scalar(select(MerchantRecord).where(MerchantRecord.code == code))

    def merchant(self, merchant_id: int) -> MerchantRecord | None:
        """A merchant by id."""
        return self.session.get(MerchantRecord, merchant_id)

    def merchants_of_owner(self, user_id: int) -> Sequence[MerchantRecord]:
        """The shops a user owns."""
        return self.session.scalars(
            select(MerchantRecord).where(MerchantRecord.owner_user_id == user_id)
        ).all()

    def program(self, program_id: int) -> ProgramRecord | None:
        """A program row."""
        return self.session.get(ProgramRecord, program_id)

    def live_programs(self) -> Sequence[ProgramRecord]:
        """Programs published on chain."""
        return self.session.scalars(
            select(ProgramRecord).where(ProgramRecord.state == "live").order_by(ProgramRecord.id)
        ).all()

    def claimable_grants(
        self, program_id: int, address: str
    ) -> Sequence[tuple[GrantRecord, RoundRecord]]:
        """Merkle grants of `address` not known to be claimed, under finished rounds."""
        rows = self.session.execute(
            select(GrantRecord, RoundRecord)
            .join(RoundRecord, RoundRecord.id == GrantRecord.round_pk)
            .where(
                GrantRecord.program_id == program_id,
                GrantRecord.address == address,
                GrantRecord.state.in_(CLAIMABLE_GRANT_STATES),
                RoundRecord.mode == "merkle",
                RoundRecord.state == "done",
            )
            .order_by(GrantRecord.id)
        )
        return [(g, r) for g, r in rows]

    def claiming_grants(self) -> Sequence[GrantRecord]:
        """Grants whose claim transaction the relayer sent and has not settled yet."""
        return self.session.scalars(
            select(GrantRecord).where(
                GrantRecord.state == "claiming", GrantRecord.claim_entry_id.is_not(None)
            )
        ).all()

    def entry(self, entry_id: int) -> OutboxEntry | None:
        """An outbox entry (for its hash and state)."""
        return self.session.get(OutboxEntry, entry_id)
