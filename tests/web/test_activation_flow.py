"""A resident activates their allowance wallet in headless Chromium on a phone.

An official's import (through the programs service) gave the resident a citizen account
with no usable password. The resident opens the login page, follows the activation link,
types their resident number and registered phone, chooses a username and password, and
lands on /wallet logged in; the wallet API shows the custodial address the importer made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext
from sqlalchemy import select

from busanchain.deployment.service import DeploymentService
from busanchain.keys.service import key_service_for
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.residents import resident_crypto
from busanchain.programs.service import ProgramService
from busanchain.programs.tables import ResidentRecord
from busanchain.web.app import create_app
from tests.programs.conftest import csv_bytes, program_fields, resident_rows
from tests.web.support import PHONE, VIEWPORTS, PageVisit, Viewport, serve, visit
from tests.web.test_pages import assert_fits_width, assert_language, check_page

pytestmark = pytest.mark.browser

PASSWORD = "my new wallet 2026"


@dataclass(frozen=True)
class Enrolled:
    """The served app and one imported resident (their own data, as they would type it)."""

    url: str
    number: str
    phone: str
    custodial_address: str


@pytest.fixture
def enrolled(context: PlatformContext) -> Iterator[Enrolled]:
    """Contracts deployed, a live program, one resident imported, the app served."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    program = ProgramService(context).create(None, program_fields())
    row = resident_rows(1, seed=11)[0]
    ResidentImporter(context).import_file(program.id, "residents.csv", csv_bytes([row]))
    digits = row["resident_id"].replace("-", "")
    with context.unit_of_work() as session:
        user_id = session.scalar(
            select(ResidentRecord.user_id).where(
                ResidentRecord.resident_hash == resident_crypto(context).hash_id(digits)
            )
        )
    assert user_id is not None
    address = key_service_for(context).custodial_address(user_id)
    assert address is not None
    with serve(create_app(context)) as url:
        yield Enrolled(url, row["resident_id"], row["phone"], address)


def checked(shown: PageVisit, lang: str = "ko") -> PageVisit:
    """No console errors, the right language, no horizontal scrolling at 390 px."""
    shown.page.wait_for_load_state("networkidle")
    assert_fits_width(shown, PHONE)
    shown.assert_no_console_errors()
    assert_language(shown, lang)
    return shown


def test_a_resident_activates_the_wallet_on_a_phone(
    enrolled: Enrolled,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    ctx = open_context(PHONE)
    login = checked(visit(ctx, enrolled.url + "/login"))
    page = login.page
    with page.expect_navigation():
        page.click("a[href='/activate']")
    checked(login)
    page.screenshot(path=str(screenshot_dir / "activate-phone-ko.png"), full_page=True)
    page.fill("input[name=resident_number]", enrolled.number.replace("-", ""))
    page.fill("input[name=phone]", enrolled.phone.replace("-", " "))
    page.fill("input[name=username]", "haeundae.kim")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_confirm]", PASSWORD)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    checked(login)
    assert page.url == enrolled.url + "/wallet", page.inner_text("main")
    assert page.inner_text("h1") == "내 지갑"
    assert page.locator("form[action='/logout']").count() == 1  # logged in
    page.screenshot(path=str(screenshot_dir / "activate-wallet-phone-ko.png"), full_page=True)
    wallet = ctx.request.get(enrolled.url + "/api/payments/wallet")
    assert wallet.status == 200 and wallet.json()["address"] == enrolled.custodial_address
    me = ctx.request.get(enrolled.url + "/api/accounts/me").json()
    assert me["user"]["username"] == "haeundae.kim"


def test_a_wrong_phone_is_explained_on_the_page(
    enrolled: Enrolled, open_context: Callable[[Viewport], BrowserContext]
) -> None:
    shown = checked(visit(open_context(PHONE), enrolled.url + "/activate?lang=en"), "en")
    page = shown.page
    page.fill("input[name=resident_number]", enrolled.number)
    page.fill("input[name=phone]", "010-0000-0000")
    page.fill("input[name=username]", "someone")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_confirm]", PASSWORD)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    # The browser logs the 401 of the answered form itself; nothing else may go wrong.
    expected = "the server responded with a status of 401"
    assert [e for e in shown.errors if expected not in e] == []
    shown.errors.clear()
    checked(shown, "en")
    assert "do not match our records" in page.inner_text("[role=alert]")
    assert page.url == enrolled.url + "/activate"


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: v.name)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_activation_page_renders(
    live_server: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    lang: str,
    viewport: Viewport,
) -> None:
    shot = screenshot_dir / f"activate-{lang}-{viewport.name}.png"
    check_page(open_context, live_server + "/activate", lang, viewport, shot)
