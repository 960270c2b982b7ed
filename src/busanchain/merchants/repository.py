"""Queries over the merchants tables (and the payment rows a merchant's report reads).

Repositories never commit: the service owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from busanchain.merchants.tables import (
    ChangeRequestRecord,
    ChangeState,
    MerchantRecord,
    SettlementRecord,
    SettlementState,
)
from busanchain.payments.tables import PaymentRecord, PaymentState, RefundRecord
from busanchain.programs.tables import ProgramRecord

SETTLED_STATES = (SettlementState.BURNED, SettlementState.PAID)


def merchant(session: Session, merchant_id: int, lock: bool = False) -> MerchantRecord | None:
    """One merchant by id (optionally row-locked)."""
    stmt = select(MerchantRecord).where(MerchantRecord.id == merchant_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def by_code(session: Session, code: str) -> MerchantRecord | None:
    """One merchant by its public code."""
    return session.scalars(select(MerchantRecord).where(MerchantRecord.code == code)).first()


def by_owner(session: Session, user_id: int) -> MerchantRecord | None:
    """The merchant owned by a user (a user owns at most one: its wallet is the shop's)."""
    stmt = (
        select(MerchantRecord)
        .where(MerchantRecord.owner_user_id == user_id)
        .order_by(MerchantRecord.id.desc())
    )
    return session.scalars(stmt).first()


def colliding(session: Session, bizno_hash: str, wallet: str) -> Sequence[MerchantRecord]:
    """Records that share a business number hash or a wallet with a new application."""
    stmt = select(MerchantRecord).where(
        or_(
            MerchantRecord.business_number_hash == bizno_hash,
            MerchantRecord.wallet_address == wallet,
        )
    )
    return session.scalars(stmt).all()


def code_taken(session: Session, code: str) -> bool:
    """Whether a merchant code is already used."""
    return by_code(session, code) is not None


def by_status(session: Session, status: str | None, limit: int = 200) -> Sequence[MerchantRecord]:
    """Merchants in a status (all when None), oldest application first."""
    stmt = select(MerchantRecord).order_by(MerchantRecord.id).limit(limit)
    if status is not None:
        stmt = stmt.where(MerchantRecord.status == status)
    return session.scalars(stmt).all()


def search(
    session: Session,
    *,
    status: str,
    districts: Sequence[int] | None,
    mccs: Sequence[int] | None,
    blocked_mccs: Sequence[int],
    query: str | None,
    offset: int,
    limit: int,
) -> Sequence[MerchantRecord]:
    """Merchants in `status` matching every given filter, by shop name."""
    stmt = select(MerchantRecord).where(MerchantRecord.status == status)
    if districts is not None:
        stmt = stmt.where(MerchantRecord.district.in_(list(districts)))
    if mccs is not None:
        stmt = stmt.where(MerchantRecord.mcc.in_(list(mccs)))
    if blocked_mccs:
        stmt = stmt.where(MerchantRecord.mcc.not_in(list(blocked_mccs)))
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(MerchantRecord.shop_name_ko).like(like),
                func.lower(func.coalesce(MerchantRecord.shop_name_en, "")).like(like),
                func.lower(MerchantRecord.code).like(like),
            )
        )
    stmt = stmt.order_by(MerchantRecord.shop_name_ko, MerchantRecord.id)
    return session.scalars(stmt.offset(offset).limit(limit)).all()


def program(session: Session, program_id: int) -> ProgramRecord | None:
    """A program (for its category and district rules)."""
    return session.get(ProgramRecord, program_id)


def programs(session: Session) -> Sequence[ProgramRecord]:
    """Every program, newest first (for the search page's program select)."""
    return session.scalars(select(ProgramRecord).order_by(ProgramRecord.id.desc())).all()


def add_settlement(session: Session, record: SettlementRecord) -> SettlementRecord:
    """Insert a settlement record and give it its id."""
    session.add(record)
    session.flush()
    return record


def settlement(session: Session, settlement_id: int, lock: bool = False) -> SettlementRecord | None:
    """One settlement by id (optionally row-locked)."""
    stmt = select(SettlementRecord).where(SettlementRecord.id == settlement_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def settlement_by_bank_reference(session: Session, reference: str) -> SettlementRecord | None:
    """The settlement a bank transfer reference was recorded on, if any."""
    stmt = select(SettlementRecord).where(SettlementRecord.bank_reference == reference)
    return session.scalars(stmt).first()


def settlements_in_state(
    session: Session, state: str, limit: int = 500
) -> Sequence[tuple[SettlementRecord, MerchantRecord]]:
    """Settlements in a state with their shops: awaiting ones oldest first, others newest."""
    order = SettlementRecord.id if state == SettlementState.BURNED else SettlementRecord.id.desc()
    stmt = (
        select(SettlementRecord, MerchantRecord)
        .join(MerchantRecord, MerchantRecord.id == SettlementRecord.merchant_id)
        .where(SettlementRecord.state == state)
        .order_by(order)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def settlements(session: Session, merchant_id: int, limit: int = 50) -> Sequence[SettlementRecord]:
    """A merchant's latest settlements."""
    stmt = (
        select(SettlementRecord)
        .where(SettlementRecord.merchant_id == merchant_id)
        .order_by(SettlementRecord.id.desc())
        .limit(limit)
    )
    return session.scalars(stmt).all()


def payment_totals(session: Session, merchant_id: int, day: date) -> tuple[int, int]:
    """(count, gross) of a merchant's confirmed payments on a KST business day."""
    stmt = select(func.count(PaymentRecord.id), func.coalesce(func.sum(PaymentRecord.amount), 0))
    stmt = stmt.where(
        PaymentRecord.merchant_id == merchant_id,
        PaymentRecord.state == PaymentState.CONFIRMED,
        PaymentRecord.business_day == day,
    )
    count, gross = session.execute(stmt).one()
    return int(count), int(gross)


def refund_totals(
    session: Session, merchant_id: int, start: datetime, end: datetime
) -> tuple[int, int]:
    """(count, amount) of confirmed refunds of a merchant's payments confirmed in [start, end)."""
    stmt = (
        select(func.count(RefundRecord.id), func.coalesce(func.sum(RefundRecord.amount), 0))
        .join(PaymentRecord, PaymentRecord.id == RefundRecord.payment_id)
        .where(
            PaymentRecord.merchant_id == merchant_id,
            RefundRecord.state == "confirmed",
            RefundRecord.confirmed_at >= start,
            RefundRecord.confirmed_at < end,
        )
    )
    count, amount = session.execute(stmt).one()
    return int(count), int(amount)


def redemption_totals(session: Session, merchant_id: int, day: date) -> dict[str, tuple[int, int]]:
    """(count, amount) per state (burned, paid) of a merchant's redemptions requested on a day."""
    stmt = (
        select(
            SettlementRecord.state,
            func.count(SettlementRecord.id),
            func.coalesce(func.sum(SettlementRecord.amount), 0),
        )
        .where(
            SettlementRecord.merchant_id == merchant_id,
            SettlementRecord.state.in_(SETTLED_STATES),
            SettlementRecord.business_day == day,
        )
        .group_by(SettlementRecord.state)
    )
    totals = {state: (0, 0) for state in SETTLED_STATES}
    for state, count, amount in session.execute(stmt).all():
        totals[state] = (int(count), int(amount))
    return totals


def add_change_request(session: Session, record: ChangeRequestRecord) -> ChangeRequestRecord:
    """Insert a change request and give it its id."""
    session.add(record)
    session.flush()
    return record


def change_request(
    session: Session, request_id: int, lock: bool = False
) -> ChangeRequestRecord | None:
    """One change request by id (optionally row-locked)."""
    stmt = select(ChangeRequestRecord).where(ChangeRequestRecord.id == request_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def pending_change(session: Session, merchant_id: int) -> ChangeRequestRecord | None:
    """A merchant's change request still waiting for the registrar, if any."""
    stmt = select(ChangeRequestRecord).where(
        ChangeRequestRecord.merchant_id == merchant_id,
        ChangeRequestRecord.state == ChangeState.PENDING,
    )
    return session.scalars(stmt).first()


def change_requests(
    session: Session, *, state: str | None = None, merchant_id: int | None = None, limit: int = 200
) -> Sequence[ChangeRequestRecord]:
    """Change requests by state and/or merchant, newest first."""
    stmt = select(ChangeRequestRecord).order_by(ChangeRequestRecord.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(ChangeRequestRecord.state == state)
    if merchant_id is not None:
        stmt = stmt.where(ChangeRequestRecord.merchant_id == merchant_id)
    return session.scalars(stmt).all()
