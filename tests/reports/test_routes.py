"""Who may read reports: officials and auditors; citizens and merchants get 403, visitors log in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from tests.reports.conftest import GROCERY, NOW, Rows
from tests.token.conftest import actor

READ_PATHS = (
    "/api/reports/dashboard",
    "/api/reports/programs/1",
    "/api/reports/alerts",
    "/api/reports/exports/payments?format=csv",
    "/reports",
    "/reports/programs/1",
    "/reports/alerts",
)


def _seed(rows: Rows) -> None:
    rows.program(1, expires_at=NOW + timedelta(days=3650))
    rows.merchant("BS-GROC01", GROCERY)
    rows.pay("BS-GROC01", 12_000)


@pytest.mark.parametrize("role", [Role.CITIZEN, Role.MERCHANT])
def test_citizens_and_merchants_get_403(context: PlatformContext, rows: Rows, role: Role) -> None:
    _seed(rows)
    user = actor(context, f"user-{role.value}", role)
    for path in (*READ_PATHS, "/api/reports/programs/1/conservation"):
        got = user.client.get(path)
        assert got.status_code == 403, (path, got.status_code)
    post = user.client.post(
        "/api/reports/programs/1/clawback", headers={**user.headers, "Idempotency-Key": "k" * 10}
    )
    assert post.status_code == 403


def test_visitors_are_sent_to_log_in(context: PlatformContext) -> None:
    from fastapi.testclient import TestClient

    from busanchain.web.app import create_app

    with TestClient(create_app(context)) as client:
        assert client.get("/api/reports/dashboard").status_code == 401
        page = client.get("/reports", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"


def test_officials_and_auditors_read_dashboards_and_pages(
    context: PlatformContext, rows: Rows
) -> None:
    _seed(rows)
    for role in (Role.OFFICIAL, Role.AUDITOR):
        reader = actor(context, f"reader-{role.value}", role)
        board = reader.client.get("/api/reports/dashboard").json()
        assert board["totals"]["spent"] == 12_000
        assert board["by_category"][0]["name_ko"] == "식료품점·슈퍼마켓"
        one = reader.client.get("/api/reports/programs/1")
        assert one.status_code == 200 and one.json()["program_id"] == 1
        assert reader.client.get("/api/reports/programs/77").status_code == 404
        assert reader.client.get("/api/reports/programs/99999999999999999999").status_code == 422
        assert reader.client.get("/api/reports/dashboard?program_id=0").status_code == 422
        assert reader.client.get("/api/reports/alerts").json() == {"alerts": [], "count": 0}
        page = reader.client.get("/reports")
        assert page.status_code == 200
        assert "업종별 사용액" in page.text and "<svg" in page.text and "12,000원" in page.text
        english = reader.client.get("/reports?lang=en")
        assert "Spending by category" in english.text
        detail = reader.client.get("/reports/programs/1?lang=ko")
        assert detail.status_code == 200 and "온체인 보존 증명" in detail.text
        assert reader.client.get("/reports/alerts").status_code == 200


def test_auditors_may_not_withdraw(context: PlatformContext, rows: Rows) -> None:
    _seed(rows)
    auditor = actor(context, "auditor1", Role.AUDITOR)
    got = auditor.client.post(
        "/api/reports/programs/1/clawback",
        headers={**auditor.headers, "Idempotency-Key": "auditor-try-1"},
    )
    assert got.status_code == 403
    form = auditor.client.post(
        "/reports/programs/1/clawback",
        data={"csrf_token": auditor.headers["X-CSRF-Token"], "idempotency_key": "x" * 12},
    )
    assert form.status_code == 403
