"""Program pages in Chromium at phone and desktop sizes: create a program through the form,
import a file with a bad row (per-row table), import a good one, run a round and watch the
progress bar reach 100%. Korean by default, English with ?lang=en; no horizontal scroll."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import BrowserContext

from busanchain.accounts.service import account_service_for
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from tests.programs.conftest import csv_bytes, resident_rows
from tests.web.support import PHONE, VIEWPORTS, Viewport, visit
from tests.web.test_pages import assert_fits_width, assert_language

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def _official_session(ctx: BrowserContext, url: str) -> None:
    login = ctx.request.post(
        f"{url}/api/accounts/login", data={"login": "off1", "password": PASSWORD}
    )
    assert login.ok, login.text()
    csrf = login.json()["csrf_token"]
    enrolled = ctx.request.post(f"{url}/api/accounts/totp/enroll", headers={"X-CSRF-Token": csrf})
    secret = enrolled.json()["secret"]
    confirmed = ctx.request.post(
        f"{url}/api/accounts/totp/confirm",
        data={"code": pyotp.TOTP(secret).now()},
        headers={"X-CSRF-Token": csrf},
    )
    assert confirmed.ok, confirmed.text()


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: v.name)
def test_official_flow_in_browser(
    platform: PlatformContext,
    live_server: str,
    open_context: Callable[[Viewport], BrowserContext],
    viewport: Viewport,
    tmp_path: Path,
) -> None:
    account_service_for(platform).create_user("off1", PASSWORD, [Role.OFFICIAL])
    ctx = open_context(viewport)
    _official_session(ctx, live_server)
    page = visit(ctx, f"{live_server}/programs/new")
    assert_fits_width(page, viewport)
    assert_language(page, "ko")
    form = page.page
    form.fill("#name_ko", "부산 청년수당")
    form.fill("#name_en", "Busan youth allowance")
    form.select_option("#kind", "youth")
    form.fill("#budget", "10000000")
    form.fill("#per_person_amount", "300000")
    form.fill("#starts_at", "2026-01-01")
    form.fill("#expires_at", "2030-12-31")
    form.check("input[name=allowed_districts][value='26350']")
    form.click("#create")
    form.wait_for_url("**/programs/*", timeout=30_000)
    assert form.locator("[data-testid=state]").inner_text() == "live"
    assert_fits_width(page, viewport)
    bad_rows = resident_rows(3, seed=1, district="26350")
    bad_rows[1]["phone"] = "123"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(bad_rows))
    form.set_input_files("#import-form input[type=file]", str(bad))
    form.click("#import-form button")
    form.wait_for_selector("#import-errors:not([hidden])")
    assert "3" in form.locator("#import-errors tbody").inner_text()
    assert_fits_width(page, viewport)
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(resident_rows(3, seed=2, district="26350")))
    form.set_input_files("#import-form input[type=file]", str(good))
    form.click("#import-form button")
    form.wait_for_function(
        "document.querySelector('[data-testid=enrolled]').textContent.trim() === '3'",
        timeout=15_000,
    )
    form.click("#run-round")
    form.wait_for_function(
        "document.getElementById('round-status').textContent.includes('100%')", timeout=30_000
    )
    assert "done" in form.locator("#round-status").inner_text()
    unexpected = [e for e in page.errors if "422" not in e or "/imports" not in e]
    assert unexpected == []  # the rejected upload's 422 is the only console message
    english = visit(ctx, f"{live_server}/programs/1?lang=en")
    assert_language(english, "en")
    assert_fits_width(english, viewport)
    listing = visit(ctx, f"{live_server}/programs?lang=en")
    assert_language(listing, "en")
    assert_fits_width(listing, viewport)
    assert viewport in VIEWPORTS and PHONE.width == 390
