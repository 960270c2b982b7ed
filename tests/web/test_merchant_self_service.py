"""Phones, headless Chromium: a shop edits its details, an official records a KRW transfer.

A registered shop adds its settlement account and phone on /merchants/me; its redemption is
burned on chain and shows "이체 대기"; an official enters the bank's transfer reference on
/merchants/settlements; the shop then sees "지급 완료" with that reference. An auditor sees the
same list without any form. Every page: no console errors, no horizontal scrolling at 390 px.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from busanchain.accounts.service import account_service_for
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.merchants.service import MerchantService, MerchantView
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.web.app import create_app
from tests.accounts.conftest import code_at, make_user
from tests.merchants.conftest import bizno
from tests.merchants.test_browser import browser_login, official_with_totp
from tests.merchants.test_service import mint
from tests.web.support import PHONE, PageVisit, Viewport, serve, visit
from tests.web.test_pages import assert_fits_width

pytestmark = pytest.mark.browser

REDEEMED = 17_000
REFERENCE = "BUSANBANK-20261127-000042"
WAIT_MS = 20_000


@pytest.fixture
def site(context: PlatformContext) -> Iterator[str]:
    """Contracts deployed and the real app served on loopback."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    with serve(create_app(context)) as url:
        yield url


def registered_shop(context: PlatformContext, username: str) -> MerchantView:
    """A shop owned by a new merchant user, registered on chain, holding 30,000 DigitalWon."""
    owner = make_user(account_service_for(context), username, Role.MERCHANT)
    service = MerchantService(context)
    view = service.apply(
        owner,
        "영도 해녀 식당",
        "Yeongdo Haenyeo Kitchen",
        bizno("818000042"),
        5812,
        26200,
        "해양로 1",
    )
    view = service.approve(view.id, None)
    mint(service, view.wallet_address, 30_000, b"\x42" * 32)
    return view


def checked(shown: PageVisit) -> PageVisit:
    """No console errors, fits the phone's width."""
    shown.page.wait_for_load_state("networkidle")
    shown.assert_no_console_errors()
    assert_fits_width(shown, PHONE)
    return shown


def edit_details(page: Page) -> None:
    """The shop adds its phone and settlement account through the edit form."""
    page.fill("#edit-form input[name=customer_phone]", "051-410-4242")
    page.select_option("#edit-form select[name=bank_code]", "032")
    page.fill("#edit-form input[name=bank_account_number]", "101-2020-3030-44")
    with page.expect_navigation(timeout=WAIT_MS):  # the page reloads after saving
        page.click("[data-testid=edit-submit]")
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
def test_shop_edits_and_official_marks_a_settlement_paid_on_phones(
    context: PlatformContext,
    site: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    view = registered_shop(context, "haenyeo_shop")
    secret = official_with_totp(context, "payout_official")
    make_user(account_service_for(context), "payout_auditor", Role.AUDITOR)

    # 1. The shop adds its settlement account; the page shows it masked.
    shop_ctx = open_context(PHONE)
    browser_login(shop_ctx, site, "haenyeo_shop")
    mine = checked(visit(shop_ctx, site + "/merchants/me"))
    assert mine.page.locator("[data-testid=no-bank-account]").is_visible()
    edit_details(mine.page)
    assert "부산은행" in mine.page.inner_text("[data-testid=bank-account]")
    assert "*********3044" in mine.page.inner_text("[data-testid=bank-account]")
    assert mine.page.inner_text("[data-testid=shop-phone]") == "0514104242"
    assert "1012020303044" not in mine.page.content()

    # 2. The shop redeems: burned on chain, awaiting the bank transfer.
    status, answer = MerchantService(context).redeem(view.owner_user_id, REDEEMED, "ss-redeem-01")
    assert (status, answer["state"]) == (200, "burned")
    awaiting = checked(visit(shop_ctx, site + "/merchants/me"))
    row = awaiting.page.locator(
        f"[data-testid=settlement-row][data-id='{answer['settlement_id']}']"
    )
    assert "이체 대기" in row.inner_text()

    # 3. The auditor sees the list, read-only.
    auditor_ctx = open_context(PHONE)
    browser_login(auditor_ctx, site, "payout_auditor")
    audit = checked(visit(auditor_ctx, site + "/merchants/settlements"))
    assert audit.page.locator("[data-testid=read-only]").is_visible()
    assert audit.page.locator("[data-testid=awaiting-row]").count() == 1
    assert audit.page.locator("[data-testid=mark-paid]").count() == 0

    # 4. The official records the transfer with the bank's reference.
    official_ctx = open_context(PHONE)
    browser_login(official_ctx, site, "payout_official", code_at(secret, 1))
    payouts = checked(visit(official_ctx, site + "/merchants/settlements"))
    page = payouts.page
    line = page.locator(f"[data-testid=awaiting-row][data-id='{answer['settlement_id']}']")
    assert "영도 해녀 식당" in line.inner_text() and "17,000" in line.inner_text()
    assert "*********3044" in line.inner_text()
    line.locator("input[name=bank_reference]").fill("   ")
    line.locator("[data-testid=mark-paid]").click()
    assert "1~64" in line.locator(".status-line").inner_text()  # checked before sending
    line.locator("input[name=bank_reference]").fill(REFERENCE)
    with page.expect_navigation(timeout=WAIT_MS):
        line.locator("[data-testid=mark-paid]").click()
    page.wait_for_load_state("networkidle")
    paid_row = page.locator(f"[data-testid=paid-row][data-id='{answer['settlement_id']}']")
    assert REFERENCE in paid_row.inner_text()
    assert page.locator("[data-testid=awaiting-row]").count() == 0
    page.screenshot(path=str(screenshot_dir / "merchants-settlements-phone.png"), full_page=True)
    checked(payouts)

    # 5. The shop sees it paid, with the reference.
    done = checked(visit(shop_ctx, site + "/merchants/me"))
    row = done.page.locator(f"[data-testid=settlement-row][data-id='{answer['settlement_id']}']")
    assert "지급 완료" in row.inner_text()
    assert REFERENCE in row.inner_text()
    assert row.get_attribute("data-state") == "paid"
    done.page.screenshot(path=str(screenshot_dir / "merchants-me-paid-phone.png"), full_page=True)


@pytest.mark.browser
def test_a_change_request_is_approved_on_a_phone(
    context: PlatformContext,
    site: str,
    open_context: Callable[[Viewport], BrowserContext],
) -> None:
    view = registered_shop(context, "moving_shop")
    secret = official_with_totp(context, "change_official")

    shop_ctx = open_context(PHONE)
    browser_login(shop_ctx, site, "moving_shop")
    mine = checked(visit(shop_ctx, site + "/merchants/me"))
    mine.page.select_option("#change-form select[name=district]", "26110")  # Jung-gu
    mine.page.fill("#change-form input[name=reason]", "남포동으로 이전")
    with mine.page.expect_navigation(timeout=WAIT_MS):
        mine.page.click("[data-testid=change-submit]")
    mine.page.wait_for_load_state("networkidle")
    assert "심사 중" in mine.page.inner_text("[data-testid=change-requests]")

    official_ctx = open_context(PHONE)
    browser_login(official_ctx, site, "change_official", code_at(secret, 1))
    review = checked(visit(official_ctx, site + "/merchants/registrar"))
    row = review.page.locator(f"tr[data-testid=change-row][data-code='{view.code}']")
    assert "남포동으로 이전" in row.inner_text()
    with review.page.expect_navigation(timeout=30_000):
        row.locator("button[data-change=approve]").click()
    review.page.wait_for_load_state("networkidle")
    assert review.page.locator("tr[data-testid=change-row]").count() == 0
    registry = MerchantService(context)
    entry = registry.chain.read_one(registry.chain.registry, "merchantOf", [view.wallet_address])
    assert int(entry[2]) == 26110

    after = checked(visit(shop_ctx, site + "/merchants/me"))
    assert "승인됨" in after.page.inner_text("[data-testid=change-requests]")
    assert "중구" in after.page.inner_text("main")
