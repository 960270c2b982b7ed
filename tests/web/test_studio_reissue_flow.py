"""Re-issue of a lost claim code in headless Chromium on a phone, through the pages.

The studio, its session and one issued photo are made through the service (their pages are
covered by test_studio_flow.py); the customer has lost that first code. On the session page
the studio presses "코드 재발급" on the photo, confirms, and gets the new QR code and link on
the hand-over page. The old link now answers 404, the new one claims the photo, and the
session page then offers no re-issue for it any more.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Dialog

from busanchain.accounts.service import account_service_for
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio.demo_art import demo_photo
from busanchain.studio.service import StudioService, Upload
from busanchain.web.app import create_app
from tests.accounts.conftest import make_user
from tests.merchants.conftest import bizno
from tests.web.support import PHONE, Viewport, serve, visit
from tests.web.test_allowance_flow import CHAIN_WAIT_MS, Site, checked, log_in, open_page, wait_text
from tests.web.test_studio_flow import CLAIM_URL, claim_as_citizen

pytestmark = pytest.mark.browser


@pytest.fixture
def studio_site(context: PlatformContext) -> Iterator[Site]:
    """Contracts deployed (PhotoNFT among them) and the app served on loopback."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    with serve(create_app(context)) as url:
        yield Site(url, context)


def studio_with_issued_photo(context: PlatformContext, base: str) -> tuple[str, int, str]:
    """An approved studio with one issued photo: (session URL, photo id, the lost claim URL)."""
    accounts = account_service_for(context)
    owner = make_user(accounts, "gwangalli-re", Role.STUDIO)
    admin = make_user(accounts, "studio-admin-re", Role.ADMIN)
    service = StudioService(context)
    studio = service.register(owner, "광안리 사진관", "Gwangalli Photo", bizno("515000888"), 500)
    assert service.approve(studio["id"], admin)["status"] == "active"
    session = service.create_session(owner, "LOST-01")
    photo = service.upload(owner, session["id"], [Upload("a.jpg", demo_photo(51).jpeg)])[0]
    status, issued = service.issue(owner, photo["id"], "browser-issue-0001", base)
    assert status == 201
    return f"{base}/studio/sessions/{session['id']}", int(photo["id"]), issued["claim_url"]


def test_a_lost_code_is_reissued_and_only_the_new_one_claims(
    studio_site: Site,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    base, context = studio_site.url, studio_site.context
    session_url, photo_id, lost_url = studio_with_issued_photo(context, base)
    make_user(account_service_for(context), "minji-re", Role.CITIZEN)

    studio_ctx = open_context(PHONE)
    log_in(studio_ctx, base, "gwangalli-re")
    shown = open_page(studio_ctx, session_url)
    page = shown.page
    card = page.locator(f"[data-testid=photo-card][data-id='{photo_id}']")
    assert card.get_attribute("data-state") == "issued"
    button = card.locator("[data-testid=reissue-code]")
    assert button.is_visible() and "코드 재발급" in button.inner_text()
    page.screenshot(path=str(screenshot_dir / "studio-reissue-session-phone.png"), full_page=True)
    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    with page.expect_navigation(timeout=CHAIN_WAIT_MS):
        button.click()
    checked(shown)
    assert questions and "취소" in questions[0]
    assert "이전 코드" in page.inner_text("[data-testid=reissued-note]")
    assert page.locator("[data-testid=claim-qr] svg").is_visible()
    new_url = page.input_value("[data-testid=claim-url]")
    assert CLAIM_URL.match(new_url) and new_url != lost_url, (new_url, lost_url)
    page.screenshot(path=str(screenshot_dir / "studio-reissue-phone.png"), full_page=True)
    page.close()

    citizen_ctx = open_context(PHONE)
    lost = visit(citizen_ctx, lost_url)
    assert lost.status == 404  # the lost code no longer names any photo
    lost.page.close()
    assert claim_as_citizen(citizen_ctx, new_url, "minji-re", screenshot_dir) == photo_id

    tracking = open_page(studio_ctx, session_url)
    wait_text(tracking.page, "[data-count=claimed]", "1")
    claimed = tracking.page.locator(f"[data-testid=photo-card][data-id='{photo_id}']")
    assert claimed.get_attribute("data-state") == "claimed"
    assert not claimed.locator("[data-testid=reissue-code]").is_visible()
    assert not tracking.page.is_visible("[data-testid=reissue-card]")
    checked(tracking)
    assert re.search(r"/studio/sessions/\d+$", tracking.page.url)
