"""Citizen and merchant pages: Korean first, English on request, phone-first, and a real pay."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext

from busanchain.payments.relayer import run_relayer
from busanchain.web.app import create_app
from tests.accounts.conftest import PASSWORD
from tests.payments.conftest import World, pay
from tests.web.support import PHONE, Viewport, serve, visit


def test_pages_render_in_both_languages(world: World) -> None:
    pid = world.program()
    citizen = world.citizen("citizen1")
    merchant, code = world.merchant("shop1")
    world.grant(pid, citizen.address, 30_000)
    payment_id = pay(citizen, pid, code, 1_000).json()["payment"]["id"]
    wallet = citizen.client.get("/wallet")
    assert wallet.status_code == 200 and "내 지갑" in wallet.text and "D-" in wallet.text
    assert "My wallet" in citizen.client.get("/wallet?lang=en").text
    assert "가맹점 코드" in citizen.client.get("/pay?lang=ko").text
    assert "받은 결제" in merchant.client.get("/payments/incoming").text
    receipt = citizen.client.get(f"/payments/{payment_id}")
    assert receipt.status_code == 200 and "결제 영수증" in receipt.text
    assert citizen.client.get("/payments/static/jsQR.js").status_code == 200
    card = citizen.client.get(f"/api/payments/merchants/{code}").json()
    assert card["name"] == "shop1 마트" and card["district"]


@pytest.mark.browser
def test_citizen_pays_by_code_on_a_phone(
    world: World, open_context: Callable[[Viewport], BrowserContext]
) -> None:
    pid = world.program()
    world.citizen("citizen1")
    merchant, code = world.merchant("shop1")
    citizen_address = world.actors[0].address
    world.grant(pid, citizen_address, 30_000)
    stop = threading.Event()
    relayer = threading.Thread(target=run_relayer, args=(world.context, stop), daemon=True)
    relayer.start()
    try:
        with serve(create_app(world.context)) as url:
            ctx = open_context(PHONE)
            page = ctx.new_page()
            page.goto(f"{url}/login")
            page.request.post(
                f"{url}/api/accounts/login", data={"login": "citizen1", "password": PASSWORD}
            )
            shown = visit(ctx, f"{url}/wallet")
            assert "30,000" in shown.page.content()
            _no_overflow(shown.page)
            shown.assert_no_console_errors()
            shown.page.click("text=결제하기")
            shown.page.wait_for_url(f"{url}/pay")
            shown.page.fill("#pp-code", code)
            shown.page.fill("#pp-amount", "4500")
            shown.page.click("#pp-next")
            shown.page.wait_for_selector("#pp-confirm:not([hidden])")
            assert "shop1 마트" in shown.page.inner_text("#pp-shop")
            assert "25,500" in shown.page.inner_text("#pp-after")
            _no_overflow(shown.page)
            shown.page.click("#pp-confirm-btn")
            shown.page.wait_for_url(f"{url}/payments/*")
            shown.page.wait_for_selector("#receipt[data-state=confirmed]", timeout=30_000)
            assert "confirmed" in shown.page.inner_text("#state")
            _no_overflow(shown.page)
            shown.assert_no_console_errors()
    finally:
        stop.set()
        relayer.join(timeout=30)
    assert world.chain.voucher_balance(citizen_address, pid) == 25_500
    assert world.chain.token_balance(merchant.address) == 4_500


def _no_overflow(page: object) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 390, f"horizontal overflow: {width}px"
