"""Cash-out ("깡") alerts: payment patterns that suggest vouchers are being turned into cash.

A shop that hands out cash for allowance vouchers (keeping a cut) leaves traces in the
payments. Each rule below looks for one; an alert is a lead for an official, not a verdict.
Only confirmed payments count (refunds are looked at as requests, whatever their state).

1. cap_repeat: the same payer pays the same merchant exactly the program's per-payment cap
   at least CAP_REPEAT_MIN times within CAP_REPEAT_WINDOW (high from CAP_REPEAT_HIGH times).
2. pay_refund: the same payer's payments at one merchant are followed by a refund request
   within PAY_REFUND_WINDOW, at least PAY_REFUND_MIN times (pay, take cash, "refund").
3. round_burst: at one merchant, at least BURST_MIN_PAYMENTS round-number payments (multiples
   of ROUND_UNIT) from at least BURST_MIN_PAYERS different payers within BURST_WINDOW.
4. concentration: one merchant receives more than CONCENTRATION_SHARE of a program's net
   spending, from at most CONCENTRATION_MAX_PAYERS payers (programs with at least
   CONCENTRATION_MIN_SPEND of spending only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from busanchain.merchants.tables import MerchantRecord
from busanchain.payments.tables import PaymentRecord, PaymentState, RefundRecord
from busanchain.platform.context import PlatformContext
from busanchain.programs.tables import ProgramRecord

CAP_REPEAT_MIN = 3
CAP_REPEAT_HIGH = 5
CAP_REPEAT_WINDOW = timedelta(days=7)
PAY_REFUND_MIN = 2
PAY_REFUND_WINDOW = timedelta(minutes=30)
ROUND_UNIT = 10_000
BURST_MIN_PAYMENTS = 5
BURST_MIN_PAYERS = 3
BURST_WINDOW = timedelta(minutes=10)
CONCENTRATION_SHARE = 0.20
CONCENTRATION_MAX_PAYERS = 3
CONCENTRATION_MIN_SPEND = 100_000
LOOKBACK = timedelta(days=90)

HIGH, MEDIUM = "high", "medium"


@dataclass(frozen=True)
class Alert:
    """One suspicious pattern; `payer` is an address (never a name), `payers` all involved."""

    kind: str
    severity: str
    program_id: int
    merchant_code: str
    merchant: str
    payer: str | None
    count: int
    amount: int
    first_at: datetime
    last_at: datetime
    explanation_ko: str
    explanation_en: str
    payers: list[str] = field(default_factory=list)

    def explanation(self, lang: str) -> str:
        """The explanation in the reader's language."""
        return self.explanation_en if lang == "en" else self.explanation_ko

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["first_at"] = self.first_at.isoformat()
        data["last_at"] = self.last_at.isoformat()
        return data


@dataclass(frozen=True)
class Paid:
    """The facts of a confirmed payment the rules need."""

    id: int
    program_id: int
    payer: str
    merchant_id: int
    merchant: str
    merchant_code: str
    amount: int
    refunded: int
    at: datetime


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _windows(items: Sequence[Paid], window: timedelta) -> list[list[Paid]]:
    """Maximal runs of time-sorted items where each run spans at most `window`.

    A run is reported once: after a run is found, the scan continues after its last item.
    """
    runs, start = [], 0
    ordered = sorted(items, key=lambda p: (p.at, p.id))
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1].at - ordered[start].at <= window:
            end += 1
        runs.append(ordered[start : end + 1])
        start = end + 1
    return runs


def _alert(kind: str, severity: str, run: Sequence[Paid], ko: str, en: str, **extra: Any) -> Alert:
    payers = sorted({p.payer for p in run})
    return Alert(
        kind=kind,
        severity=severity,
        program_id=run[0].program_id,
        merchant_code=run[0].merchant_code,
        merchant=run[0].merchant,
        payer=extra.get("payer", payers[0] if len(payers) == 1 else None),
        count=len(run),
        amount=sum(p.amount for p in run),
        first_at=min(p.at for p in run),
        last_at=max(p.at for p in run),
        explanation_ko=ko,
        explanation_en=en,
        payers=payers,
    )


def cap_repeat(payments: Iterable[Paid], caps: dict[int, int]) -> list[Alert]:
    """Rule 1: repeated payments of exactly the per-payment cap, same payer and merchant."""
    groups: dict[tuple[int, str, int], list[Paid]] = defaultdict(list)
    for p in payments:
        cap = caps.get(p.program_id, 0)
        if cap and p.amount == cap:
            groups[(p.program_id, p.payer, p.merchant_id)].append(p)
    alerts = []
    for group in groups.values():
        for run in _windows(group, CAP_REPEAT_WINDOW):
            if len(run) < CAP_REPEAT_MIN:
                continue
            n, cap = len(run), run[0].amount
            alerts.append(
                _alert(
                    "cap_repeat",
                    HIGH if n >= CAP_REPEAT_HIGH else MEDIUM,
                    run,
                    f"같은 시민이 같은 가맹점에서 1회 한도({cap:,}원)를 {n}번 결제했습니다 "
                    f"({CAP_REPEAT_WINDOW.days}일 이내).",
                    f"The same citizen paid the same merchant the per-payment cap ({cap:,} won) "
                    f"{n} times within {CAP_REPEAT_WINDOW.days} days.",
                )
            )
    return alerts


def pay_refund(payments: Iterable[Paid], refund_times: dict[int, datetime]) -> list[Alert]:
    """Rule 2: payments followed quickly by a refund request, same payer and merchant."""
    groups: dict[tuple[int, str, int], list[Paid]] = defaultdict(list)
    for p in payments:
        asked = refund_times.get(p.id)
        if asked is not None and timedelta(0) <= asked - p.at <= PAY_REFUND_WINDOW:
            groups[(p.program_id, p.payer, p.merchant_id)].append(p)
    minutes = int(PAY_REFUND_WINDOW.total_seconds() // 60)
    return [
        _alert(
            "pay_refund",
            HIGH if len(run) >= 2 * PAY_REFUND_MIN else MEDIUM,
            run,
            f"결제 후 {minutes}분 안에 환불 요청이 {len(run)}번 반복되었습니다.",
            f"{len(run)} payments were each followed by a refund request within {minutes} minutes.",
        )
        for run in sorted(groups.values(), key=lambda r: r[0].id)
        if len(run) >= PAY_REFUND_MIN
    ]


def round_burst(payments: Iterable[Paid]) -> list[Alert]:
    """Rule 3: many round-number payments at one merchant from many payers in minutes."""
    groups: dict[tuple[int, int], list[Paid]] = defaultdict(list)
    for p in payments:
        if p.amount % ROUND_UNIT == 0:
            groups[(p.program_id, p.merchant_id)].append(p)
    minutes = int(BURST_WINDOW.total_seconds() // 60)
    alerts = []
    for group in groups.values():
        for run in _windows(group, BURST_WINDOW):
            payers = {p.payer for p in run}
            if len(run) < BURST_MIN_PAYMENTS or len(payers) < BURST_MIN_PAYERS:
                continue
            alerts.append(
                _alert(
                    "round_burst",
                    HIGH if len(run) >= 2 * BURST_MIN_PAYMENTS else MEDIUM,
                    run,
                    f"{minutes}분 안에 시민 {len(payers)}명이 한 가맹점에서 "
                    f"{ROUND_UNIT:,}원 단위 금액을 {len(run)}번 결제했습니다.",
                    f"{len(payers)} citizens made {len(run)} payments in multiples of "
                    f"{ROUND_UNIT:,} won at one merchant within {minutes} minutes.",
                )
            )
    return alerts


def concentration(payments: Sequence[Paid]) -> list[Alert]:
    """Rule 4: a merchant taking a large share of a program's spending from few payers."""
    program_total: dict[int, int] = defaultdict(int)
    groups: dict[tuple[int, int], list[Paid]] = defaultdict(list)
    for p in payments:
        program_total[p.program_id] += p.amount - p.refunded
        groups[(p.program_id, p.merchant_id)].append(p)
    alerts = []
    for (program_id, _merchant), run in sorted(groups.items()):
        total = program_total[program_id]
        net = sum(p.amount - p.refunded for p in run)
        payers = {p.payer for p in run}
        if total < CONCENTRATION_MIN_SPEND or len(payers) > CONCENTRATION_MAX_PAYERS:
            continue
        share = net / total
        if share <= CONCENTRATION_SHARE:
            continue
        by_payer: dict[str, int] = defaultdict(int)
        for p in run:
            by_payer[p.payer] += p.amount - p.refunded
        top = max(sorted(by_payer), key=lambda a: by_payer[a])
        alerts.append(
            _alert(
                "concentration",
                HIGH if share >= 2 * CONCENTRATION_SHARE else MEDIUM,
                run,
                f"한 가맹점이 사업 전체 사용액의 {share:.0%}를 시민 {len(payers)}명에게서 "
                "받았습니다.",
                f"One merchant received {share:.0%} of the program's spending from only "
                f"{len(payers)} citizen(s).",
                payer=top,
            )
        )
    return alerts


class AlertRepository:
    """Loads what the rules need (never commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def payments(self, since: datetime, program_id: int | None) -> list[Paid]:
        """Confirmed payments made since `since`, with their merchant's code."""
        query = (
            select(PaymentRecord, MerchantRecord.code)
            .join(MerchantRecord, MerchantRecord.id == PaymentRecord.merchant_id)
            .where(PaymentRecord.state == PaymentState.CONFIRMED)
            .where(PaymentRecord.created_at >= since)
        )
        if program_id is not None:
            query = query.where(PaymentRecord.program_id == program_id)
        return [
            Paid(
                p.id,
                p.program_id,
                p.payer,
                p.merchant_id,
                p.merchant,
                code,
                p.amount,
                p.refunded,
                _aware(p.created_at),
            )
            for p, code in self.session.execute(query)
        ]

    def caps(self) -> dict[int, int]:
        """program id -> per-payment cap (0 = none)."""
        rows = self.session.execute(select(ProgramRecord.id, ProgramRecord.per_payment_cap))
        return {int(i): int(c or 0) for i, c in rows}

    def first_refund_requests(self, payment_ids: Iterable[int]) -> dict[int, datetime]:
        """payment id -> when its first refund was requested (any state)."""
        ids = list(payment_ids)
        out: dict[int, datetime] = {}
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            query = select(RefundRecord.payment_id, RefundRecord.created_at).where(
                RefundRecord.payment_id.in_(chunk)
            )
            for pid, at in self.session.execute(query):
                moment = _aware(at)
                if pid not in out or moment < out[pid]:
                    out[pid] = moment
        return out


_ORDER = {HIGH: 0, MEDIUM: 1}


def detect(
    payments: Sequence[Paid], caps: dict[int, int], refunds: dict[int, datetime]
) -> list[Alert]:
    """Every rule over the given payments; high severity first, then most recent."""
    alerts = [
        *cap_repeat(payments, caps),
        *pay_refund(payments, refunds),
        *round_burst(payments),
        *concentration(payments),
    ]
    alerts.sort(key=lambda a: a.last_at, reverse=True)
    alerts.sort(key=lambda a: _ORDER.get(a.severity, 9))
    return alerts


class AlertService:
    """Runs the cash-out rules over recent payments."""

    def __init__(self, context: PlatformContext) -> None:
        self.context = context

    def alerts(self, program_id: int | None = None, now: datetime | None = None) -> list[Alert]:
        """Alerts over the last LOOKBACK of payments (one program or all)."""
        since = _aware(now or datetime.now(UTC)) - LOOKBACK
        with self.context.unit_of_work() as session:
            repo = AlertRepository(session)
            payments = repo.payments(since, program_id)
            caps = repo.caps()
            refunds = repo.first_refund_requests(p.id for p in payments)
        return detect(payments, caps, refunds)
