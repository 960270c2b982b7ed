"""Dashboards aggregate confirmed payments net of confirmed refunds; the forecast formula."""

from __future__ import annotations

from datetime import timedelta

import pytest

from busanchain.domain.errors import NotFound
from busanchain.payments.tables import PaymentState
from busanchain.platform.context import PlatformContext
from busanchain.reports.service import ReportService, project_clawback
from tests.reports.conftest import (
    BAKERY,
    GROCERY,
    HAEUNDAE,
    JUNG_GU,
    NOW,
    RESTAURANT,
    Rows,
)


def _seed(rows: Rows) -> None:
    rows.program(1)
    rows.program(2, expires_at=NOW + timedelta(days=200))
    rows.merchant("BS-GROC01", GROCERY, HAEUNDAE)
    rows.merchant("BS-REST01", RESTAURANT, JUNG_GU)
    rows.merchant("BS-BAKE01", BAKERY, HAEUNDAE)
    day1 = NOW - timedelta(days=2)
    first = rows.pay("BS-GROC01", 30_000, at=day1)
    rows.pay("BS-GROC01", 20_000)
    rows.pay("BS-REST01", 15_000, at=day1)
    rows.refund(first, 10_000)  # confirmed refund: counts against grocery, day1
    rows.refund(first, 5_000, state="pending")  # not confirmed: ignored
    rows.pay("BS-BAKE01", 99_000, state=PaymentState.FAILED)  # never counted
    rows.pay("BS-BAKE01", 7_000, program_id=2)
    rows.grant(1, [100_000, 100_000, 50_000])
    rows.grant(1, [40_000], state="revoked")


def test_dashboard_aggregates_by_category_district_and_day(
    context: PlatformContext, rows: Rows
) -> None:
    _seed(rows)
    board = ReportService(context).dashboard(1, now=NOW)
    cats = {s.code: (s.name_ko, s.amount, s.payments) for s in board.by_category}
    assert cats == {GROCERY: ("식료품점·슈퍼마켓", 40_000, 2), RESTAURANT: ("음식점", 15_000, 1)}
    assert [s.code for s in board.by_category] == [GROCERY, RESTAURANT]  # largest first
    dists = {s.code: s.amount for s in board.by_district}
    assert dists == {HAEUNDAE: 40_000, JUNG_GU: 15_000}
    assert {s.name_ko for s in board.by_district} == {"해운대구", "중구"}
    days = {p.day: p.amount for p in board.by_day if p.amount}
    kst = (NOW + timedelta(hours=9)).date()
    assert days == {kst - timedelta(days=2): 35_000, kst: 20_000}
    assert len(board.by_day) == 30 and board.by_day[-1].day == kst
    (program,) = board.programs
    assert (program.spent, program.payments, program.granted) == (55_000, 3, 250_000)
    assert program.chain is None  # no contracts deployed: database view
    assert program.unspent == 250_000 - 55_000
    assert program.unallocated == 10_000_000 - 250_000
    assert board.totals["spent"] == 55_000


def test_dashboard_of_all_programs_and_unknown_program(
    context: PlatformContext, rows: Rows
) -> None:
    _seed(rows)
    service = ReportService(context)
    board = service.dashboard(now=NOW)
    assert board.totals["spent"] == 55_000 + 7_000
    assert {s.code for s in board.by_category} == {GROCERY, RESTAURANT, BAKERY}
    assert [p.id for p in board.programs] == [1, 2]
    with pytest.raises(NotFound):
        service.dashboard(99, now=NOW)


def test_forecast_lists_programs_expiring_within_90_days(
    context: PlatformContext, rows: Rows
) -> None:
    _seed(rows)
    board = ReportService(context).dashboard(now=NOW)
    (row,) = board.forecast  # program 2 expires in 200 days
    assert row.program_id == 1 and row.days_left == 45 and row.bucket == 60
    # 14-day window (the program started 30 days ago): net 55,000 in it -> 3,928 a day
    assert row.daily_burn == 55_000 // 14
    unspent, unallocated = 250_000 - 55_000, 10_000_000 - 250_000
    assert row.projected_spend == min(unspent, 3_928 * 45)
    assert row.projected_clawback == unspent - row.projected_spend + unallocated


def test_project_clawback_formula() -> None:
    assert project_clawback(100_000, 50_000, 10_000, 1_000, 30) == (30_000, 130_000)
    assert project_clawback(100_000, 0, 10_000, 10_000, 30) == (100_000, 10_000)  # floored
    assert project_clawback(100_000, 0, 0, 5_000, -3) == (0, 100_000)


def test_dashboard_json_is_serialisable(context: PlatformContext, rows: Rows) -> None:
    import json

    _seed(rows)
    data = ReportService(context).dashboard(now=NOW).as_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert "해운대구" in text and data["totals"]["payments"] == 4
