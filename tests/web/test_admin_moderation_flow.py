"""Platform admin pages in headless Chromium on phones: studio review and moderation.

An admin logs in with a TOTP code, opens 사진관 심사 from the menu and approves a pending
studio; the page follows the MINTER_ROLE grant to "approved" and the chain agrees. The
studio's photo is then claimed and published by its customer (through the services: the
studio pages have their own browser test). Another citizen reports the work on its page;
the admin sees the report on 신고 (/admin/moderation), opens the work from there and freezes
it; the owner appeals on the work's page; the admin sees the appeal and unfreezes it from
the moderation page, which follows the transaction until the chain shows it unfrozen. Every
page visited is checked: no console errors, no horizontal scrolling at 390 px, Korean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext

from busanchain.accounts.service import account_service_for
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.gallery.service import GalleryService
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio.service import MINTER_ROLE, StudioService
from busanchain.web.app import create_app
from tests.accounts.conftest import code_at, enable_totp, login, make_user
from tests.merchants.conftest import bizno
from tests.studio.studio_support import StudioWorld, upload_one, user
from tests.web.support import PHONE, Viewport, serve
from tests.web.test_allowance_flow import CHAIN_WAIT_MS, checked, log_in, open_page

pytestmark = pytest.mark.browser

REPORT_TEXT = "다른 사람의 사진을 올린 것 같습니다."
APPEAL_TEXT = "제가 직접 찍은 사진입니다. 원본이 있습니다."


@dataclass(frozen=True)
class AdminSite:
    """The served app, its context, the TOTP secret of "site_admin" and the pending studio."""

    url: str
    context: PlatformContext
    totp_secret: str
    studio_id: int
    studio_owner_id: int
    work_owner_id: int


def admin_with_totp(context: PlatformContext, username: str) -> str:
    """A platform admin with TOTP on (enrolment has no page in this flow); the TOTP secret."""
    make_user(account_service_for(context), username, Role.ADMIN)
    with TestClient(create_app(context)) as client:
        csrf = login(client, username)["csrf_token"]
        secret, _csrf = enable_totp(client, csrf)
    return secret


@pytest.fixture
def admin_site(context: PlatformContext) -> Iterator[AdminSite]:
    """Contracts deployed, an admin, a pending studio, two citizens; the app served."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    secret = admin_with_totp(context, "site_admin")
    owner_id = user(context, "dadaepo_studio", Role.STUDIO)
    studio = StudioService(context).register(
        owner_id, "다대포 사진관", "Dadaepo Photo", bizno("515000999"), 500
    )
    minji = user(context, "minji", Role.CITIZEN)
    user(context, "seoyeon", Role.CITIZEN)
    with serve(create_app(context)) as url:
        yield AdminSite(url, context, secret, int(studio["id"]), owner_id, minji)


def approve_studio(ctx: BrowserContext, site: AdminSite, shots: Path) -> None:
    """The admin opens 사진관 심사 from the menu and approves the pending studio."""
    shown = open_page(ctx, site.url + "/")
    page = shown.page
    with page.expect_navigation():
        page.click("header a[href='/admin/studios']")
    checked(shown)
    row = page.locator(f"[data-testid=waiting-row][data-id='{site.studio_id}']")
    assert "다대포 사진관" in row.inner_text() and "dadaepo_studio" in row.inner_text()
    assert row.locator("[data-testid=studio-status]").get_attribute("data-status") == "pending"
    page.screenshot(path=str(shots / "admin-studios-phone.png"), full_page=True)
    with page.expect_navigation(timeout=CHAIN_WAIT_MS):  # reloads once the grant is mined
        row.locator("[data-testid=approve]").click()
    checked(shown)
    decided = page.locator(f"[data-testid=decided-row][data-id='{site.studio_id}']")
    assert decided.locator("[data-testid=studio-status]").get_attribute("data-status") == "active"
    assert page.locator(f"[data-testid=waiting-row][data-id='{site.studio_id}']").count() == 0
    page.close()


def publish_a_work(site: AdminSite) -> int:
    """The approved studio hands a photo to "minji", who publishes it; the token id."""
    studio = StudioService(site.context)
    session = studio.create_session(site.studio_owner_id, "SEA-01")
    world = StudioWorld(site.studio_owner_id, site.studio_id, int(session["id"]), 0)
    photo = upload_one(studio, world, 91)
    _, issued = studio.issue(site.studio_owner_id, int(str(photo["id"])), "admin-flow-issue")
    owner_id = site.work_owner_id
    status, claimed = studio.claim(owner_id, issued["claim_code"], None, "admin-flow-claim")
    assert status == 200, claimed
    status, _ = studio.publish(owner_id, int(str(photo["id"])), True)
    assert status == 200
    return int(claimed["token_id"])


def report_work(ctx: BrowserContext, site: AdminSite, token_id: int) -> None:
    """A citizen reports the work on its page."""
    shown = open_page(ctx, f"{site.url}/gallery/tokens/{token_id}")
    page = shown.page
    page.select_option("#report-form select[name=kind]", "copy")
    page.fill("#report-form textarea[name=text]", REPORT_TEXT)
    page.click("[data-testid=report-submit]")
    page.wait_for_selector("[data-status=report][data-state=done]", timeout=CHAIN_WAIT_MS)
    checked(shown)
    page.close()


def freeze_from_the_report(
    ctx: BrowserContext, site: AdminSite, token_id: int, shots: Path
) -> None:
    """The admin sees the report on 신고, opens the work from it and freezes it there."""
    shown = open_page(ctx, site.url + "/")
    page = shown.page
    with page.expect_navigation():
        page.click("header a[href='/admin/moderation']")
    checked(shown)
    row = page.locator(f"[data-testid=report-row][data-token='{token_id}']")
    assert row.count() == 1
    assert REPORT_TEXT in row.inner_text() and "se***" in row.inner_text()
    assert "seoyeon" not in page.inner_text("main")  # the reporter is masked
    page.screenshot(path=str(shots / "admin-reports-phone.png"), full_page=True)
    with page.expect_navigation():
        row.locator("[data-testid=token-link]").click()
    checked(shown)
    page.select_option("#moderate-form select[name=reason_code]", "copy")
    page.fill("#moderate-form input[name=note]", "신고 확인 중")
    with page.expect_navigation(timeout=CHAIN_WAIT_MS):  # reloads once frozen
        page.click("[data-testid=freeze-submit]")
    checked(shown)
    assert page.get_attribute("[data-testid=frozen-banner]", "data-reason") == "copy"
    page.close()


def appeal_as_owner(ctx: BrowserContext, site: AdminSite, token_id: int) -> None:
    """The owner sees the freeze on the work's page and appeals."""
    shown = open_page(ctx, f"{site.url}/gallery/tokens/{token_id}")
    page = shown.page
    assert page.is_visible("[data-testid=frozen-banner]")
    page.fill("#appeal-form textarea[name=text]", APPEAL_TEXT)
    page.click("[data-testid=appeal-submit]")
    page.wait_for_selector("[data-status=appeal][data-state=done]", timeout=CHAIN_WAIT_MS)
    checked(shown)
    page.close()


def unfreeze_from_the_appeal(
    ctx: BrowserContext, site: AdminSite, token_id: int, shots: Path
) -> None:
    """The admin sees the appeal on 신고 and unfreezes; the page follows it to unfrozen."""
    shown = open_page(ctx, site.url + "/admin/moderation")
    page = shown.page
    assert page.locator("[data-testid=report-row]").count() == 0  # decided by the freeze
    frozen = page.locator(f"[data-testid=frozen-row][data-token='{token_id}']")
    assert frozen.get_attribute("data-reason") == "copy" and "신고 확인 중" in frozen.inner_text()
    appeal = page.locator(f"[data-testid=appeal-row][data-token='{token_id}']")
    assert appeal.get_attribute("data-open") == "true" and APPEAL_TEXT in appeal.inner_text()
    page.screenshot(path=str(shots / "admin-appeal-phone.png"), full_page=True)
    appeal.locator("input[name=note]").fill("원본 확인, 해제합니다")
    appeal.locator("[data-testid=appeal-unfreeze]").click()
    page.wait_for_selector(
        "[data-testid=appeal-row] [data-testid=row-status][data-state=done]",
        timeout=CHAIN_WAIT_MS,
    )
    page.wait_for_selector(
        f"[data-testid=appeal-row][data-token='{token_id}'][data-open=false]",
        timeout=CHAIN_WAIT_MS,
    )  # after the page reloaded itself
    checked(shown)
    assert page.locator("[data-testid=frozen-row]").count() == 0
    page.close()


def test_admin_approves_a_studio_and_moderates_a_work_on_phones(
    admin_site: AdminSite,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    site = admin_site
    studio = StudioService(site.context)
    signing = studio.my_studio(site.studio_owner_id)["signing_address"]
    assert not studio._read("hasRole", [MINTER_ROLE, signing])

    admin = open_context(PHONE)
    log_in(admin, site.url, "site_admin", code_at(site.totp_secret, 1))
    approve_studio(admin, site, screenshot_dir)
    assert studio._read("hasRole", [MINTER_ROLE, signing])

    token_id = publish_a_work(site)
    reporter = open_context(PHONE)
    log_in(reporter, site.url, "seoyeon")
    report_work(reporter, site, token_id)

    gallery = GalleryService(site.context)
    freeze_from_the_report(admin, site, token_id, screenshot_dir)
    assert gallery.frozen_reason(token_id) == "copy"

    owner = open_context(PHONE)
    log_in(owner, site.url, "minji")
    appeal_as_owner(owner, site, token_id)

    unfreeze_from_the_appeal(admin, site, token_id, screenshot_dir)
    assert gallery.frozen_reason(token_id) is None
