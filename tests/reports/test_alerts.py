"""Each cash-out rule fires on its pattern and stays quiet just below its threshold."""

from __future__ import annotations

from datetime import timedelta

from eth_account import Account

from busanchain.payments.tables import PaymentState
from busanchain.platform.context import PlatformContext
from busanchain.reports.alerts import (
    BURST_MIN_PAYERS,
    BURST_MIN_PAYMENTS,
    CAP_REPEAT_MIN,
    CONCENTRATION_MIN_SPEND,
    PAY_REFUND_MIN,
    Alert,
    AlertService,
)
from tests.reports.conftest import NOW, RESTAURANT, Rows

CAP = 50_000


def _alerts(context: PlatformContext, kind: str) -> list[Alert]:
    return [a for a in AlertService(context).alerts(now=NOW + timedelta(days=1)) if a.kind == kind]


def _background(rows: Rows, n: int = 30) -> None:
    """Ordinary spending by many citizens at many shops (keeps the concentration rule quiet)."""
    for i in range(n):
        code = f"BS-BG{i:04d}"
        rows.merchant(code)
        rows.pay(code, 12_345 + i, at=NOW - timedelta(days=3, minutes=17 * i))


def test_cap_repeat_fires_on_three_cap_payments_within_a_week(
    context: PlatformContext, rows: Rows
) -> None:
    rows.program(1, per_payment_cap=CAP)
    rows.merchant("BS-KKANG1")
    payer = Account.create().address
    for day in range(CAP_REPEAT_MIN):
        rows.pay("BS-KKANG1", CAP, payer=payer, at=NOW - timedelta(days=2 * day))
    _background(rows)
    (alert,) = _alerts(context, "cap_repeat")
    assert (alert.payer, alert.merchant_code, alert.count) == (payer, "BS-KKANG1", 3)
    assert alert.amount == 3 * CAP and alert.severity == "medium"
    assert alert.first_at == NOW - timedelta(days=4) and alert.last_at == NOW
    assert "1회 한도" in alert.explanation_ko and "per-payment cap" in alert.explanation_en


def test_cap_repeat_stays_quiet_below_threshold_or_spread_out(
    context: PlatformContext, rows: Rows
) -> None:
    rows.program(1, per_payment_cap=CAP)
    rows.merchant("BS-OK0001")
    rows.merchant("BS-OK0002")
    payer = Account.create().address
    for week in range(3):  # three cap payments, but 8 days apart
        rows.pay("BS-OK0001", CAP, payer=payer, at=NOW - timedelta(days=8 * week))
    rows.pay("BS-OK0002", CAP, payer=payer)  # twice only at this shop
    rows.pay("BS-OK0002", CAP, payer=payer, at=NOW - timedelta(hours=1))
    rows.pay("BS-OK0002", CAP - 1, payer=payer, at=NOW - timedelta(hours=2))  # not the cap
    rows.pay("BS-OK0002", CAP, payer=payer, state=PaymentState.FAILED)  # not confirmed
    _background(rows)
    assert _alerts(context, "cap_repeat") == []


def test_pay_then_refund_fires_when_repeated(context: PlatformContext, rows: Rows) -> None:
    rows.program(1)
    rows.merchant("BS-REFUND")
    payer = Account.create().address
    for i in range(PAY_REFUND_MIN):
        at = NOW - timedelta(hours=3 * i)
        payment = rows.pay("BS-REFUND", 30_000, payer=payer, at=at)
        rows.refund(payment, 30_000, at=at + timedelta(minutes=5), state="pending")
    (alert,) = _alerts(context, "pay_refund")
    assert (alert.payer, alert.count, alert.amount) == (payer, 2, 60_000)


def test_pay_then_refund_quiet_when_refund_is_late_or_single(
    context: PlatformContext, rows: Rows
) -> None:
    rows.program(1)
    rows.merchant("BS-REFUND")
    payer = Account.create().address
    late = rows.pay("BS-REFUND", 30_000, payer=payer, at=NOW - timedelta(days=1))
    rows.refund(late, 30_000, at=NOW - timedelta(days=1) + timedelta(hours=2))
    quick = rows.pay("BS-REFUND", 30_000, payer=payer)
    rows.refund(quick, 30_000, at=NOW + timedelta(minutes=3))
    assert _alerts(context, "pay_refund") == []


def test_round_burst_fires_on_many_round_payments_from_many_payers(
    context: PlatformContext, rows: Rows
) -> None:
    rows.program(1)
    rows.merchant("BS-BURST1", RESTAURANT)
    payers = [Account.create().address for _ in range(BURST_MIN_PAYERS)]
    for i in range(BURST_MIN_PAYMENTS):
        rows.pay("BS-BURST1", 40_000, payer=payers[i % 3], at=NOW + timedelta(minutes=i))
    _background(rows)
    (alert,) = _alerts(context, "round_burst")
    assert alert.merchant_code == "BS-BURST1" and alert.count == 5
    assert alert.payer is None and sorted(alert.payers) == sorted(payers)
    assert alert.amount == 200_000


def test_round_burst_quiet_for_odd_amounts_few_payers_or_slow_pace(
    context: PlatformContext, rows: Rows
) -> None:
    rows.program(1)
    for code in ("BS-ODD001", "BS-FEW001", "BS-SLOW01"):
        rows.merchant(code)
    many = [Account.create().address for _ in range(5)]
    for i in range(6):
        rows.pay("BS-ODD001", 40_500, payer=many[i % 5], at=NOW + timedelta(minutes=i))
        rows.pay("BS-FEW001", 40_000, payer=many[i % 2], at=NOW + timedelta(minutes=i))
        rows.pay("BS-SLOW01", 40_000, payer=many[i % 5], at=NOW + timedelta(minutes=11 * i))
    _background(rows)
    assert _alerts(context, "round_burst") == []


def test_concentration_fires_when_few_payers_bring_a_large_share(
    context: PlatformContext, rows: Rows
) -> None:
    rows.program(1)
    rows.merchant("BS-CONC01")
    rows.merchant("BS-OTHER1")
    payer = Account.create().address
    for d in range(4):
        rows.pay("BS-CONC01", 33_333, payer=payer, at=NOW - timedelta(days=d))
    for _ in range(6):
        rows.pay("BS-OTHER1", 20_000, at=NOW - timedelta(days=5))
    (alert,) = _alerts(context, "concentration")
    assert alert.merchant_code == "BS-CONC01" and alert.payer == payer
    assert alert.count == 4 and alert.amount == 133_332
    assert "53%" in alert.explanation_en


def test_concentration_quiet_for_many_payers_or_small_programs(
    context: PlatformContext, rows: Rows
) -> None:
    rows.program(1)
    rows.program(2)
    rows.merchant("BS-POPULAR")
    rows.merchant("BS-SMALL01")
    for _ in range(8):  # 100% of program 1, but from 8 different citizens
        rows.pay("BS-POPULAR", 25_000)
    payer = Account.create().address
    rows.pay("BS-SMALL01", CONCENTRATION_MIN_SPEND - 1, payer=payer, program_id=2)
    assert _alerts(context, "concentration") == []
