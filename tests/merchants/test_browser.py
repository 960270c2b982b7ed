"""A shop applies on a phone, an official approves it, and the shop's page shows its QR code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext, Page

from busanchain.accounts.service import account_service_for
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.accounts.conftest import PASSWORD, code_at, enable_totp, login, make_user
from tests.merchants.conftest import bizno
from tests.web.support import PHONE, PageVisit, Viewport, visit
from tests.web.test_pages import assert_fits_width


def browser_login(ctx: BrowserContext, base: str, username: str, totp: str | None = None) -> Page:
    """Log in through the real forms (and the TOTP step when a code is given)."""
    opened = visit(ctx, base + "/login")
    page = opened.page
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    if totp is not None:
        page.fill("input[name=code]", totp)
        with page.expect_navigation():
            page.click("form.stack button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def official_with_totp(context: PlatformContext, username: str) -> str:
    """Create an official with TOTP turned on; return the TOTP secret."""
    make_user(account_service_for(context), username, Role.OFFICIAL)
    with TestClient(create_app(context)) as client:
        csrf = login(client, username)["csrf_token"]
        secret, _csrf = enable_totp(client, csrf)
    return secret


@pytest.mark.browser
def test_apply_approve_and_see_the_qr_on_a_phone(
    platform: PlatformContext,
    live_server: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    make_user(account_service_for(platform), "phone_shop", Role.MERCHANT)
    secret = official_with_totp(platform, "phone_official")

    shop_ctx = open_context(PHONE)
    page = browser_login(shop_ctx, live_server, "phone_shop")
    applying = visit(shop_ctx, live_server + "/merchants/apply")
    form = applying.page
    form.fill("input[name=shop_name_ko]", "전포 카페거리 커피")
    form.fill("input[name=shop_name_en]", "Jeonpo Coffee")
    form.fill("input[name=business_number]", bizno("617000123"))
    form.select_option("select[name=mcc]", "5814")
    form.select_option("select[name=district]", "26230")
    assert_fits_width(applying, PHONE)
    with form.expect_navigation():
        form.click("[data-testid=apply-submit]")
    form.wait_for_load_state("networkidle")
    assert urlsplit(form.url).path == "/merchants/me"
    assert form.inner_text("[data-testid=shop-status]") == "심사 대기"
    code = form.inner_text("[data-testid=shop-code]")
    applying.assert_no_console_errors()

    official_ctx = open_context(PHONE)
    browser_login(official_ctx, live_server, "phone_official", code_at(secret, 1))
    review = visit(official_ctx, live_server + "/merchants/registrar")
    row = review.page.locator(f"tr[data-code='{code}']")
    assert "전포 카페거리 커피" in row.inner_text()
    assert_fits_width(review, PHONE)
    with review.page.expect_navigation(timeout=30_000):
        row.locator("button[data-action=approve]").click()
    review.page.wait_for_load_state("networkidle")
    registered = review.page.locator(f"tr[data-testid=registered-row][data-code='{code}']")
    assert "운영 중" in registered.inner_text()
    review.page.screenshot(
        path=str(screenshot_dir / "merchants-registrar-phone.png"), full_page=True
    )
    review.assert_no_console_errors()

    mine: PageVisit = visit(shop_ctx, live_server + "/merchants/me")
    me = mine.page
    assert me.inner_text("[data-testid=shop-status]") == "운영 중"
    qr = me.locator("[data-testid=static-qr] svg")
    assert qr.is_visible()
    assert qr.bounding_box()["width"] >= 250  # type: ignore[index]  (big on the screen)
    me.fill("#dyn-form input[name=amount]", "12000")
    me.fill("#dyn-form input[name=order]", "T-17")
    me.click("#dyn-form button[type=submit]")
    me.locator("[data-testid=dynamic-qr] svg").wait_for(state="visible")
    assert "a=12000" in me.inner_text("#dyn-payload")
    assert_fits_width(mine, PHONE)
    me.screenshot(path=str(screenshot_dir / "merchants-me-phone.png"), full_page=True)
    mine.assert_no_console_errors()
    del page


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_search_on_a_phone_finds_shops_by_district(
    platform: PlatformContext,
    live_server: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    lang: str,
) -> None:
    from busanchain.merchants.demo import load_demo_merchants

    load_demo_merchants(platform, {})
    ctx = open_context(PHONE)
    found = visit(ctx, f"{live_server}/merchants/search?lang={lang}")
    page = found.page
    assert page.locator("[data-testid=merchant-card]").count() == 7
    page.select_option("select[name=district]", "26230")  # Busanjin-gu: two demo shops
    with page.expect_navigation():
        page.click("[data-testid=search-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    cards = page.locator("[data-testid=merchant-card]")
    assert cards.count() == 2
    expected = "Seomyeon Gimbap" if lang == "en" else "서면 김밥나라"
    assert expected in page.inner_text("main")
    href = cards.first.locator("a").get_attribute("href")
    assert href is not None and href.startswith("/pay?m=BS-")
    assert_fits_width(PageVisit(page, 200), PHONE)
    page.screenshot(path=str(screenshot_dir / f"merchants-search-{lang}-phone.png"), full_page=True)
    found.assert_no_console_errors()
