"""Dashboards for officials and auditors: where allowance money was spent, what is left, and
what will come back to the treasury at expiry.

Spending is read from the database (confirmed payments, net of confirmed refunds; a refund
counts against the category, district and business day of the payment it refunds). What is
left is read from the chain (PolicyVoucher's ledger), with a database estimate when the
contracts cannot be reached. Money is in KRW, integers.

Expiry forecast (programs expiring within the next 90 days, bucketed by 30/60/90 days):

    daily_burn          = net spending over the last BURN_WINDOW_DAYS business days
                          / number of those days since the program started (at least 1)
    spendable           = unspent + unclaimed                     (vouchers citizens may use)
    projected_spend     = daily_burn x days_left
    projected_clawback  = max(0, spendable - projected_spend) + unallocated

i.e. what citizens still hold (or may still claim) shrinks at the recent burn rate until
expiry, and the backing nobody was granted comes back in full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from busanchain.domain.busan import categories, districts
from busanchain.domain.errors import BusanchainError, NotFound
from busanchain.merchants.tables import MerchantRecord
from busanchain.payments.tables import PaymentRecord, PaymentState, RefundRecord
from busanchain.platform.context import PlatformContext
from busanchain.programs.tables import GrantRecord, ProgramRecord
from busanchain.vouchers.contracts import VoucherChain

KST = timedelta(hours=9)
BURN_WINDOW_DAYS = 14
FORECAST_BUCKETS = (30, 60, 90)
DAY_CHART_DAYS = 30
REFUND_CONFIRMED = "confirmed"


def kst_today(now: datetime | None = None) -> date:
    """Today's date in Korea (business days start at midnight KST)."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) + KST).date()


def aware(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime (SQLite hands back naive ones)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def won(amount: int) -> str:
    """KRW amount for people: 1,234원."""
    return f"{amount:,}원"


def category_names(mcc: int) -> tuple[str, str]:
    """(Korean, English) name of a merchant category; the code when unknown."""
    known = categories().get(mcc)
    return (known.name_ko, known.name_en) if known else (f"업종 {mcc}", f"MCC {mcc}")


def district_names(code: int) -> tuple[str, str]:
    """(Korean, English) name of a Busan district; the code when unknown."""
    known = districts().get(code)
    return (known.name_ko, known.name_en) if known else (f"지역 {code}", f"District {code}")


@dataclass(frozen=True)
class Slice:
    """Net spending of one category or district."""

    code: int
    name_ko: str
    name_en: str
    amount: int
    payments: int


@dataclass(frozen=True)
class DayPoint:
    """Net spending of one business day (KST)."""

    day: date
    amount: int
    payments: int


@dataclass(frozen=True)
class ChainLedger:
    """PolicyVoucher's ledger of one program, read on chain."""

    locked: int
    unspent: int
    unclaimed: int
    unallocated: int
    paid_out: int
    refunded: int
    withdrawn: int
    expired: bool
    withdrawn_flag: bool


@dataclass
class ProgramSummary:
    """One program: rules, money granted and spent (database) and left (chain)."""

    id: int
    name_ko: str
    name_en: str
    kind: str
    state: str
    budget: int
    starts_at: datetime
    expires_at: datetime
    granted: int  # database: grants not revoked
    spent: int  # database: confirmed payments net of confirmed refunds
    payments: int
    chain: ChainLedger | None = None

    @property
    def unspent(self) -> int:
        """Outstanding vouchers: on chain when known, else granted minus spent."""
        return self.chain.unspent if self.chain else max(self.granted - self.spent, 0)

    @property
    def unclaimed(self) -> int:
        """Reserved under Merkle roots but not yet claimed (0 when the chain is unknown)."""
        return self.chain.unclaimed if self.chain else 0

    @property
    def unallocated(self) -> int:
        """Backing nobody was granted."""
        return self.chain.unallocated if self.chain else max(self.budget - self.granted, 0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["starts_at"] = self.starts_at.isoformat()
        data["expires_at"] = self.expires_at.isoformat()
        data.update(unspent=self.unspent, unclaimed=self.unclaimed, unallocated=self.unallocated)
        return data


@dataclass(frozen=True)
class ForecastRow:
    """A program expiring soon, with the projected clawback (formula in the module doc)."""

    program_id: int
    name_ko: str
    name_en: str
    expires_at: datetime
    days_left: int
    bucket: int  # 30, 60 or 90: expires within that many days
    unspent: int
    unclaimed: int
    unallocated: int
    daily_burn: int
    projected_spend: int
    projected_clawback: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        return data


@dataclass
class Dashboard:
    """Everything the dashboard shows, for one program or all of them."""

    program_id: int | None
    programs: list[ProgramSummary]
    by_category: list[Slice]
    by_district: list[Slice]
    by_day: list[DayPoint]
    forecast: list[ForecastRow]
    totals: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "program_id": self.program_id,
            "totals": self.totals,
            "programs": [p.as_dict() for p in self.programs],
            "by_category": [asdict(s) for s in self.by_category],
            "by_district": [asdict(s) for s in self.by_district],
            "by_day": [
                {"day": p.day.isoformat(), "amount": p.amount, "payments": p.payments}
                for p in self.by_day
            ],
            "forecast": [f.as_dict() for f in self.forecast],
        }


def project_clawback(
    unspent: int, unclaimed: int, unallocated: int, daily_burn: int, days_left: int
) -> tuple[int, int]:
    """(projected spend, projected clawback) at expiry; see the module docstring."""
    spendable = unspent + unclaimed
    projected_spend = min(spendable, daily_burn * max(days_left, 0))
    return projected_spend, spendable - projected_spend + unallocated


def _confirmed(query: Select[Any], program_id: int | None) -> Select[Any]:
    query = query.where(PaymentRecord.state == PaymentState.CONFIRMED)
    if program_id is not None:
        query = query.where(PaymentRecord.program_id == program_id)
    return query


class ReportRepository:
    """Aggregate queries over payments, refunds, grants and programs (never commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def programs(self, program_id: int | None = None) -> list[ProgramRecord]:
        """Every program (or one), by id."""
        query = select(ProgramRecord).order_by(ProgramRecord.id)
        if program_id is not None:
            query = query.where(ProgramRecord.id == program_id)
        return list(self.session.scalars(query))

    def _net(self, key: Any, program_id: int | None) -> dict[Any, tuple[int, int]]:
        """Net confirmed spending and payment count grouped by `key`."""
        paid = _confirmed(
            select(key, func.sum(PaymentRecord.amount), func.count(PaymentRecord.id))
            .select_from(PaymentRecord)
            .join(MerchantRecord, MerchantRecord.id == PaymentRecord.merchant_id)
            .group_by(key),
            program_id,
        )
        refunded = _confirmed(
            select(key, func.sum(RefundRecord.amount))
            .select_from(RefundRecord)
            .join(PaymentRecord, PaymentRecord.id == RefundRecord.payment_id)
            .join(MerchantRecord, MerchantRecord.id == PaymentRecord.merchant_id)
            .where(RefundRecord.state == REFUND_CONFIRMED)
            .group_by(key),
            program_id,
        )
        back = {k: int(v or 0) for k, v in self.session.execute(refunded)}
        return {
            k: (int(total or 0) - back.get(k, 0), int(count))
            for k, total, count in self.session.execute(paid)
        }

    def by_category(self, program_id: int | None) -> dict[int, tuple[int, int]]:
        """mcc -> (net amount, payments)."""
        return self._net(MerchantRecord.mcc, program_id)

    def by_district(self, program_id: int | None) -> dict[int, tuple[int, int]]:
        """district code -> (net amount, payments)."""
        return self._net(MerchantRecord.district, program_id)

    def by_day(self, program_id: int | None) -> dict[date | None, tuple[int, int]]:
        """business day -> (net amount, payments)."""
        return self._net(PaymentRecord.business_day, program_id)

    def by_program(self) -> dict[int, tuple[int, int]]:
        """program id -> (net amount, payments)."""
        return self._net(PaymentRecord.program_id, None)

    def recent_spend(self, program_id: int, since: date) -> int:
        """Net spending of a program on business days from `since` on."""
        rows = self._net(PaymentRecord.business_day, program_id)
        return sum(amount for day, (amount, _n) in rows.items() if day is not None and day >= since)

    def granted(self) -> dict[int, int]:
        """program id -> sum of grants not revoked."""
        query = (
            select(GrantRecord.program_id, func.sum(GrantRecord.amount))
            .where(GrantRecord.state != "revoked")
            .group_by(GrantRecord.program_id)
        )
        return {int(k): int(v or 0) for k, v in self.session.execute(query)}


def _slices(
    rows: dict[int, tuple[int, int]], names: Callable[[int], tuple[str, str]]
) -> list[Slice]:
    out = []
    for code, (amount, count) in rows.items():
        ko, en = names(code)
        out.append(Slice(code, ko, en, amount, count))
    return sorted(out, key=lambda s: (-s.amount, s.code))


def _day_series(rows: dict[date | None, tuple[int, int]], today: date, days: int) -> list[DayPoint]:
    """One point per day for the last `days` days up to the latest of today and the data."""
    dated = {d: v for d, v in rows.items() if d is not None}
    end = max([today, *dated])
    start = end - timedelta(days=days - 1)
    return [
        DayPoint(start + timedelta(days=i), *dated.get(start + timedelta(days=i), (0, 0)))
        for i in range(days)
    ]


class ReportService:
    """Builds dashboards from the database and the chain."""

    def __init__(self, context: PlatformContext, chain: VoucherChain | None = None) -> None:
        self.context = context
        self._chain = chain

    @property
    def chain(self) -> VoucherChain:
        """The voucher contracts (created on first use)."""
        if self._chain is None:
            self._chain = VoucherChain(self.context)
        return self._chain

    def ledger(self, program_id: int) -> ChainLedger | None:
        """The program's ledger on chain; None when the chain or contracts are unavailable."""
        try:
            (ledger,) = self.chain.read(self.chain.voucher, "ledger", [program_id])
            (rules,) = self.chain.read(self.chain.voucher, "program", [program_id])
            expired = bool(self.chain.read_one(self.chain.voucher, "isExpired", [program_id]))
        except BusanchainError:
            return None
        if int(rules[5]) == 0:  # not created on chain (yet)
            return None
        locked, unspent, unclaimed, paid_out, refunded, withdrawn = (int(v) for v in ledger)
        return ChainLedger(
            locked=locked,
            unspent=unspent,
            unclaimed=unclaimed,
            unallocated=locked - unspent - unclaimed,
            paid_out=paid_out,
            refunded=refunded,
            withdrawn=withdrawn,
            expired=expired,
            withdrawn_flag=bool(rules[9]),
        )

    def summaries(
        self, program_id: int | None = None, with_chain: bool = True
    ) -> list[ProgramSummary]:
        """One summary per program (or the one asked for; NotFound if it does not exist)."""
        with self.context.unit_of_work() as session:
            repo = ReportRepository(session)
            programs = repo.programs(program_id)
            spent, granted = repo.by_program(), repo.granted()
            out = [
                ProgramSummary(
                    id=p.id,
                    name_ko=p.name_ko,
                    name_en=p.name_en,
                    kind=p.kind,
                    state=p.state,
                    budget=p.budget,
                    starts_at=aware(p.starts_at),
                    expires_at=aware(p.expires_at),
                    granted=granted.get(p.id, 0),
                    spent=spent.get(p.id, (0, 0))[0],
                    payments=spent.get(p.id, (0, 0))[1],
                )
                for p in programs
            ]
        if program_id is not None and not out:
            raise NotFound(f"No program {program_id}.", f"{program_id}번 지원 사업이 없습니다.")
        if with_chain:
            for summary in out:
                summary.chain = self.ledger(summary.id)
        return out

    def forecast(
        self, summaries: Sequence[ProgramSummary], now: datetime | None = None
    ) -> list[ForecastRow]:
        """Programs expiring within the largest bucket, soonest first (formula: module doc)."""
        moment = aware(now or datetime.now(UTC))
        today = kst_today(moment)
        rows = []
        with self.context.unit_of_work() as session:
            repo = ReportRepository(session)
            for s in summaries:
                left = s.expires_at - moment
                if left.total_seconds() <= 0 or left > timedelta(days=FORECAST_BUCKETS[-1]):
                    continue
                if s.chain is not None and s.chain.withdrawn_flag:
                    continue
                days_left = max(left.days + (1 if left.seconds else 0), 1)
                window = min(BURN_WINDOW_DAYS, max((today - kst_today(s.starts_at)).days + 1, 1))
                since = today - timedelta(days=window - 1)
                burn = max(repo.recent_spend(s.id, since), 0) // window
                spend, clawback = project_clawback(
                    s.unspent, s.unclaimed, s.unallocated, burn, days_left
                )
                bucket = next(b for b in FORECAST_BUCKETS if days_left <= b)
                rows.append(
                    ForecastRow(
                        s.id,
                        s.name_ko,
                        s.name_en,
                        s.expires_at,
                        days_left,
                        bucket,
                        s.unspent,
                        s.unclaimed,
                        s.unallocated,
                        burn,
                        spend,
                        clawback,
                    )
                )
        return sorted(rows, key=lambda r: (r.expires_at, r.program_id))

    def dashboard(
        self, program_id: int | None = None, now: datetime | None = None, with_chain: bool = True
    ) -> Dashboard:
        """Spending by category, district and day, what is left, and the expiry forecast."""
        summaries = self.summaries(program_id, with_chain)
        with self.context.unit_of_work() as session:
            repo = ReportRepository(session)
            by_category = _slices(repo.by_category(program_id), category_names)
            by_district = _slices(repo.by_district(program_id), district_names)
            days = repo.by_day(program_id)
        by_day = _day_series(days, kst_today(now), DAY_CHART_DAYS)
        totals = {
            "budget": sum(s.budget for s in summaries),
            "granted": sum(s.granted for s in summaries),
            "spent": sum(s.spent for s in summaries),
            "payments": sum(s.payments for s in summaries),
            "unspent": sum(s.unspent for s in summaries),
            "unclaimed": sum(s.unclaimed for s in summaries),
            "unallocated": sum(s.unallocated for s in summaries),
            "withdrawn": sum(s.chain.withdrawn for s in summaries if s.chain),
        }
        return Dashboard(
            program_id=program_id,
            programs=summaries,
            by_category=by_category,
            by_district=by_district,
            by_day=by_day,
            forecast=self.forecast(summaries, now),
            totals=totals,
        )
