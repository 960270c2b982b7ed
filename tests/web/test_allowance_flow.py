"""The whole allowance flow in headless Chromium on a phone, through the pages like a person.

An official approves a shop, creates a program, imports residents and disburses (Merkle
round); a citizen pays the shop by typing its code; the shop refunds part of the payment and
redeems DigitalWon for KRW. Every page visited is checked: no console errors, no horizontal
scrolling at 390 px, Korean by default. At the end the chain must agree with the pages.

The server is the real app under uvicorn with the payments relayer loop in the same process
(as the runtime runs it), over a fresh database and freshly deployed contracts on the
session's anvil. Only what has no page (creating the users, turning on TOTP) uses the API.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext, Page

from busanchain.accounts.service import account_service_for
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.outbox.service import OutboxService
from busanchain.payments.relayer import run_relayer
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.vouchers.contracts import VoucherChain
from busanchain.web.app import create_app
from tests.accounts.conftest import PASSWORD, code_at, enable_totp, login, make_user
from tests.merchants.conftest import bizno
from tests.programs.conftest import csv_bytes, resident_rows
from tests.web.support import PHONE, PageVisit, Viewport, serve, visit
from tests.web.test_pages import assert_fits_width, assert_language

pytestmark = pytest.mark.browser

BUDGET = 1_000_000
PER_PERSON = 300_000
RESIDENTS = 3
PAID = 45_000
REFUNDED = 10_000
REDEEMED = 20_000
SHOP_MCC, SHOP_DISTRICT = "5814", "26230"  # fast food, Busanjin-gu
CHAIN_WAIT_MS = 30_000


@dataclass(frozen=True)
class Site:
    """The served app and the context behind it."""

    url: str
    context: PlatformContext


@pytest.fixture
def site(context: PlatformContext) -> Iterator[Site]:
    """Contracts deployed, the app served on loopback, the payments relayer running."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    stop = threading.Event()
    relayer = threading.Thread(target=run_relayer, args=(context, stop), daemon=True)
    relayer.start()
    try:
        with serve(create_app(context)) as url:
            yield Site(url, context)
    finally:
        stop.set()
        relayer.join(timeout=30)


def checked(shown: PageVisit) -> PageVisit:
    """Every page: no console errors, fits 390 px, Korean text shown by default."""
    shown.page.wait_for_load_state("networkidle")
    width = shown.page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE.width:
        assert_fits_width(shown, PHONE)  # fails with the elements past the edge
        raise AssertionError(f"{shown.page.url}: scrollWidth {width} > {PHONE.width}")
    shown.assert_no_console_errors()
    assert_language(shown, "ko")
    return shown


def open_page(ctx: BrowserContext, url: str) -> PageVisit:
    """Open a page in a new tab of `ctx` and check it."""
    shown = visit(ctx, url)
    assert shown.status == 200, f"{url} answered {shown.status}"
    return checked(shown)


def log_in(ctx: BrowserContext, base: str, username: str, totp: str | None = None) -> None:
    """Log in through the login form (and the TOTP form when a code is given)."""
    shown = open_page(ctx, base + "/login")
    page = shown.page
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    if totp is not None:
        checked(shown)
        page.fill("input[name=code]", totp)
        with page.expect_navigation():
            page.click("form.stack button[type=submit]")
    checked(shown)
    assert "/login" not in page.url, f"login failed: {page.inner_text('main')}"
    page.close()


def official_with_totp(context: PlatformContext, username: str) -> str:
    """An official with TOTP on (enrolment has no page in this flow); the TOTP secret."""
    make_user(account_service_for(context), username, Role.OFFICIAL)
    with TestClient(create_app(context)) as client:
        csrf = login(client, username)["csrf_token"]
        secret, _csrf = enable_totp(client, csrf)
    return secret


def wait_text(page: Page, selector: str, text: str, timeout: int = CHAIN_WAIT_MS) -> None:
    """Wait until the element's text contains `text`."""
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel);"
        " return !!el && el.textContent.includes(text); }",
        arg=[selector, text],
        timeout=timeout,
    )


def won(amount: int) -> str:
    """An amount as the pages print it (12,345)."""
    return f"{amount:,}"


def apply_for_shop(ctx: BrowserContext, base: str) -> str:
    """The merchant fills in the application form; returns the shop code."""
    applying = open_page(ctx, base + "/merchants/apply")
    form = applying.page
    form.fill("input[name=shop_name_ko]", "서면 햄버거")
    form.fill("input[name=shop_name_en]", "Seomyeon Burgers")
    form.fill("input[name=business_number]", bizno("617000321"))
    form.select_option("select[name=mcc]", SHOP_MCC)
    form.select_option("select[name=district]", SHOP_DISTRICT)
    with form.expect_navigation():
        form.click("[data-testid=apply-submit]")
    checked(applying)
    assert form.url.endswith("/merchants/me")
    assert form.inner_text("[data-testid=shop-status]") == "심사 대기"
    return form.inner_text("[data-testid=shop-code]").strip()


def approve_shop(ctx: BrowserContext, base: str, code: str) -> None:
    """The official approves the application on the registrar page (registers it on chain)."""
    review = open_page(ctx, base + "/merchants/registrar")
    row = review.page.locator(f"tr[data-code='{code}']")
    assert "서면 햄버거" in row.inner_text()
    with review.page.expect_navigation(timeout=CHAIN_WAIT_MS):
        row.locator("button[data-action=approve]").click()
    checked(review)
    registered = review.page.locator(f"tr[data-testid=registered-row][data-code='{code}']")
    assert "운영 중" in registered.inner_text()


def create_program(ctx: BrowserContext, base: str) -> tuple[PageVisit, int]:
    """The official fills in /programs/new and publishes; (the program page, its id)."""
    shown = open_page(ctx, base + "/programs/new")
    form = shown.page
    today = date.today()
    form.fill("#name_ko", "부산 청년 생활지원금")
    form.fill("#name_en", "Busan youth living allowance")
    form.select_option("#kind", "youth")
    form.fill("#budget", str(BUDGET))
    form.fill("#per_person_amount", str(PER_PERSON))
    form.fill("#starts_at", (today - timedelta(days=2)).isoformat())
    form.fill("#expires_at", (today + timedelta(days=365)).isoformat())
    form.select_option("#allowed_categories", ["5411", SHOP_MCC])
    form.check(f"input[name=allowed_districts][value='{SHOP_DISTRICT}']")
    form.click("#create")
    form.wait_for_url(re.compile(r".*/programs/\d+$"), timeout=CHAIN_WAIT_MS)
    checked(shown)
    assert form.inner_text("[data-testid=state]") == "live"
    assert "부산 청년 생활지원금" in form.inner_text("h1")
    return shown, int(form.url.rsplit("/", 1)[1])


def import_and_disburse(shown: PageVisit, citizen_address: str, tmp_path: Path) -> None:
    """Upload the resident list (the citizen linked by wallet) and run a Merkle round."""
    page = shown.page
    rows = resident_rows(RESIDENTS, seed=11, district=SHOP_DISTRICT)
    rows[0]["wallet"] = citizen_address  # links the resident to the citizen's custodial wallet
    upload = tmp_path / "residents.csv"
    upload.write_bytes(csv_bytes(rows))
    page.set_input_files("#import-form input[type=file]", str(upload))
    page.click("#import-form button")
    wait_text(page, "[data-testid=enrolled]", str(RESIDENTS), timeout=15_000)
    checked(shown)  # the page reloaded after the import
    assert page.locator("[data-testid=enrollments] tbody tr").count() == RESIDENTS
    page.select_option("#round-form select[name=mode]", "merkle")
    page.click("#run-round")
    wait_text(page, "#round-status", "100%")
    assert "done" in page.inner_text("#round-status")
    assert page.evaluate("document.getElementById('round-bar').style.width") == "100%"
    checked(shown)


def wallet_card(ctx: BrowserContext, base: str, program_id: int) -> tuple[PageVisit, int]:
    """The citizen's /wallet and the balance it shows for the program."""
    shown = open_page(ctx, base + "/wallet")
    card = shown.page.locator(f"section.pw-card[data-program='{program_id}']")
    assert "부산 청년 생활지원금" in card.inner_text()
    balance = card.locator(".pw-balance")
    return shown, int(balance.get_attribute("data-balance") or "-1")


def pay_by_code(wallet: PageVisit, base: str, program_id: int, code: str) -> int:
    """From the wallet: Pay, type the shop code and amount, confirm; the receipt's payment id."""
    page = wallet.page
    page.click("a.pw-pay")
    page.wait_for_url(base + "/pay")
    checked(wallet)
    page.fill("#pp-code", code)
    page.select_option("#pp-program", str(program_id))
    page.fill("#pp-amount", str(PAID))
    page.click("#pp-next")
    page.wait_for_selector("#pp-confirm:not([hidden])")
    assert "서면 햄버거" in page.inner_text("#pp-shop")
    assert won(PER_PERSON - PAID) in page.inner_text("#pp-after")
    checked(wallet)
    page.click("#pp-confirm-btn")
    page.wait_for_url(re.compile(r".*/payments/\d+"), timeout=CHAIN_WAIT_MS)
    page.wait_for_selector("#receipt[data-state=confirmed]", timeout=CHAIN_WAIT_MS)
    assert page.inner_text("#state") == "confirmed"
    assert won(PAID) in page.inner_text(".pr-amount")
    checked(wallet)
    return int(page.get_attribute("#receipt", "data-id") or "0")


def refund_part(ctx: BrowserContext, base: str, payment_id: int) -> None:
    """The merchant sees the payment on /payments/incoming and refunds part of it."""
    shown = open_page(ctx, base + "/payments/incoming")
    page = shown.page
    item = page.locator(f"#pi li[data-id='{payment_id}']")
    item.wait_for(state="visible", timeout=15_000)
    assert won(PAID) in item.inner_text() and "confirmed" in item.inner_text()
    item.locator(".pi-refund input").fill(str(REFUNDED))
    item.locator(".pi-refund button").click()
    wait_text(page, f"#pi li[data-id='{payment_id}']", f"환불됨 {won(REFUNDED)}")
    assert page.locator(f"#pi li[data-id='{payment_id}'] .pi-refund input").input_value() == str(
        PAID - REFUNDED
    )
    checked(shown)


def redeem(ctx: BrowserContext, base: str) -> str:
    """The merchant redeems DigitalWon on /merchants/me; the settlement's state label.

    The burn is immediate; the KRW transfer is recorded later by an official (covered by
    tests/web/test_merchant_self_service.py), so the settlement shows "이체 대기".
    """
    shown = open_page(ctx, base + "/merchants/me")
    page = shown.page
    assert page.inner_text("[data-testid=shop-status]") == "운영 중"
    assert won(PAID - REFUNDED) in page.inner_text("[data-testid=balance]")
    page.fill("#redeem-form input[name=amount]", str(REDEEMED))
    page.click("[data-testid=redeem-submit]")
    wait_text(page, "[data-testid=redeem-status]", "이체 대기")
    # the page reloads itself after showing the result; the settlement is then in the table
    page.wait_for_selector("[data-testid=settlement-row][data-state=burned]", timeout=15_000)
    checked(shown)
    row = page.locator("[data-testid=settlements] tbody tr").first
    assert won(REDEEMED) in row.inner_text()
    assert "이체 대기" in row.inner_text()
    assert won(PAID - REFUNDED - REDEEMED) in page.inner_text("[data-testid=balance]")
    assert row.locator("code").inner_text() == "-"  # no bank reference before the transfer
    return row.get_attribute("data-state") or ""


def test_official_citizen_and_merchant_on_phones(
    site: Site,
    open_context: Callable[[Viewport], BrowserContext],
    tmp_path: Path,
) -> None:
    context, base = site.context, site.url
    chain = VoucherChain(context)
    supply_before = int(chain.read_one(chain.token, "totalSupply", []))
    accounts, keys = account_service_for(context), key_service_for(context)
    secret = official_with_totp(context, "city_official")
    merchant_id = make_user(accounts, "burger_shop", Role.MERCHANT)
    citizen_id = make_user(accounts, "young_citizen", Role.CITIZEN)
    citizen_address = keys.custodial_address(citizen_id)
    merchant_address = keys.custodial_address(merchant_id)
    assert citizen_address and merchant_address

    # 1. The shop applies; the official approves it.
    shop = open_context(PHONE)
    log_in(shop, base, "burger_shop")
    code = apply_for_shop(shop, base)
    official = open_context(PHONE)
    log_in(official, base, "city_official", code_at(secret, 1))
    approve_shop(official, base, code)

    # 2. The official creates the program, imports residents and disburses.
    program_page, program_id = create_program(official, base)
    import_and_disburse(program_page, citizen_address, tmp_path)

    # 3. The citizen sees the allowance and pays the shop by its code.
    citizen = open_context(PHONE)
    log_in(citizen, base, "young_citizen")
    wallet, balance = wallet_card(citizen, base, program_id)
    assert balance == PER_PERSON
    payment_id = pay_by_code(wallet, base, program_id, code)

    # 4. The shop refunds part; the citizen's balance comes back; the shop redeems.
    refund_part(shop, base, payment_id)
    after, balance = wallet_card(citizen, base, program_id)
    assert balance == PER_PERSON - PAID + REFUNDED
    card_text = after.page.inner_text(f"section.pw-card[data-program='{program_id}']")
    assert f"환불 {won(REFUNDED)}" in card_text
    history = after.page.locator(f"ul.pw-list li:has(a[href='/payments/{payment_id}'])")
    assert "서면 햄버거" in history.inner_text()
    assert f"환불 +{won(REFUNDED)}" in history.inner_text()
    assert redeem(shop, base) == "burned"

    # 5. The chain agrees with the pages.
    net = PAID - REFUNDED
    assert chain.voucher_balance(citizen_address, program_id) == PER_PERSON - net
    assert chain.token_balance(merchant_address) == net - REDEEMED
    supply = int(chain.read_one(chain.token, "totalSupply", []))
    assert supply - supply_before == BUDGET - REDEEMED
    locked, unspent, unclaimed, unallocated = _ints(chain.conservation(program_id))
    assert locked == BUDGET - net
    assert unspent == PER_PERSON - net
    assert unclaimed == PER_PERSON * (RESIDENTS - 1)
    assert unallocated == BUDGET - PER_PERSON * RESIDENTS


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)
