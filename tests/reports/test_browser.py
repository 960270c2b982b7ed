"""The report pages in a real browser on a phone (390x844): charts visible, nothing too wide."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext

from busanchain.accounts.service import account_service_for
from busanchain.accounts.sessions import SESSION_COOKIE
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.accounts.conftest import login, make_user
from tests.reports.conftest import GROCERY, JUNG_GU, RESTAURANT, Rows, create_chain_program, deploy
from tests.web.support import PHONE, Viewport, visit
from tests.web.test_pages import assert_fits_width, assert_language

pytestmark = pytest.mark.browser


def _auditor_cookie(context: PlatformContext) -> str:
    make_user(account_service_for(context), "auditor-phone", Role.AUDITOR)
    with TestClient(create_app(context)) as client:
        login(client, "auditor-phone")
        return str(client.cookies[SESSION_COOKIE])


def _seed(context: PlatformContext) -> None:
    deploy(context)
    create_chain_program(context, 1, budget=2_000_000, holders=2, unclaimed=2)
    rows = Rows(context)
    rows.merchant("BS-PHONE1", GROCERY)
    rows.merchant("BS-PHONE2", RESTAURANT, JUNG_GU)
    now = datetime.now(UTC)
    for i in range(12):
        rows.pay("BS-PHONE1", 10_000 + 1_000 * i, at=now - timedelta(days=i))
        rows.pay("BS-PHONE2", 7_500, at=now - timedelta(days=2 * i))


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_reports_on_a_phone(
    context: PlatformContext,
    live_server: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    lang: str,
) -> None:
    _seed(context)
    cookie = _auditor_cookie(context)
    ctx = open_context(PHONE)
    ctx.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": live_server}])
    for path in ("/reports", "/reports/programs/1", "/reports/alerts", "/reports/clawback"):
        page = visit(ctx, f"{live_server}{path}?lang={lang}")
        assert page.status == 200, path
        page.assert_no_console_errors()
        assert_language(page, lang)
        assert_fits_width(page, PHONE)
        slug = path.strip("/").replace("/", "-")
        page.page.screenshot(path=str(screenshot_dir / f"{slug}-{lang}-phone.png"), full_page=True)
        if path in ("/reports", "/reports/programs/1"):
            charts = page.page.locator("svg.chart")
            assert charts.count() == 5
            for i in range(5):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 250 and box["height"] > 20
            bars = page.page.locator("#by-category rect.bar")
            assert bars.count() == 2
            day_text = page.page.locator("#by-day").text_content() or ""
            assert ("27,500원" if lang == "ko" else "₩27,500") in day_text
        page.page.close()
