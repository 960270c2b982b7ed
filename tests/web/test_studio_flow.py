"""The photo studio flow in headless Chromium on a phone, through the pages like a person.

A studio registers on its console and an admin approves it (through the service: the admin
console is not part of these pages); the studio opens a session, uploads two generated
photos (the progress bar reaches 100%), picks one and issues its claim code; the hand-over
page shows the QR code and the SMS and e-mail links. A citizen opens the claim URL, logs in
on the claim page, claims the photo, finds it in 내 사진 and publishes it. An anonymous visitor
can fetch the image through /ipfs/<cid> only after that. Every page visited is checked: no
console errors, no horizontal scrolling at 390 px, Korean by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import BrowserContext

from busanchain.accounts.service import account_service_for
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio.demo_art import demo_photo
from busanchain.studio.service import StudioService
from busanchain.web.app import create_app
from tests.accounts.conftest import PASSWORD, make_user
from tests.merchants.conftest import bizno
from tests.web.support import PHONE, Viewport, serve, visit
from tests.web.test_allowance_flow import CHAIN_WAIT_MS, Site, checked, log_in, open_page, wait_text
from tests.web.test_pages import assert_fits_width, assert_language

pytestmark = pytest.mark.browser

CLAIM_URL = re.compile(r"^http://127\.0\.0\.1:\d+/claim/[0-9a-f]{64}$")


@pytest.fixture
def studio_site(context: PlatformContext) -> Iterator[Site]:
    """Contracts deployed (PhotoNFT among them) and the app served on loopback."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    with serve(create_app(context)) as url:
        yield Site(url, context)


def register_studio(ctx: BrowserContext, base: str) -> None:
    """The studio fills in the registration form on /studio; it is then pending."""
    shown = open_page(ctx, base + "/studio")
    page = shown.page
    page.fill("input[name=name_ko]", "광안리 사진관")
    page.fill("input[name=name_en]", "Gwangalli Photo")
    page.fill("input[name=business_number]", bizno("515000777"))
    with page.expect_navigation():
        page.click("[data-testid=register-submit]")
    checked(shown)
    assert page.get_attribute("[data-testid=studio-status]", "data-status") == "pending"
    page.close()


def open_session(ctx: BrowserContext, base: str) -> str:
    """The approved studio opens session "BEACH-01"; the session page's URL."""
    shown = open_page(ctx, base + "/studio")
    page = shown.page
    assert page.get_attribute("[data-testid=studio-status]", "data-status") == "active"
    with page.expect_navigation():
        page.click("[data-testid=new-session]")
    checked(shown)
    page.fill("input[name=code]", "BEACH-01")
    with page.expect_navigation():
        page.click("[data-testid=session-submit]")
    checked(shown)
    assert re.search(r"/studio/sessions/\d+$", page.url), page.url
    url = page.url
    page.close()
    return url


def upload_and_issue(ctx: BrowserContext, session_url: str, tmp_path: Path, shots: Path) -> str:
    """Upload two generated photos, then issue a claim code for the first; the claim URL."""
    shown = open_page(ctx, session_url)
    page = shown.page
    files = []
    for seed in (41, 42):
        path = tmp_path / f"beach-{seed}.jpg"
        path.write_bytes(demo_photo(seed).jpeg)
        files.append(str(path))
    page.set_input_files("[data-testid=upload-input]", files)
    page.click("[data-testid=upload-submit]")
    page.wait_for_function(
        "document.querySelectorAll('[data-result=accepted]').length === 2", timeout=CHAIN_WAIT_MS
    )
    assert page.inner_text("[data-testid=upload-percent]") == "100%"
    assert page.eval_on_selector("[data-testid=upload-progress]", "el => el.value") == 100
    page.wait_for_function("document.querySelectorAll('[data-testid=photo-card]').length === 2")
    wait_text(page, "[data-count=uploaded]", "2")
    checked(shown)
    page.screenshot(path=str(shots / "studio-session-phone.png"), full_page=True)
    first = page.locator("[data-testid=photo-card]").first
    first.locator("input[type=checkbox]").check()
    with page.expect_navigation():
        page.click("[data-testid=issue-submit]")
    checked(shown)
    assert "한 번만" in page.inner_text("[data-testid=shown-once]")
    assert page.locator("[data-testid=claim-qr] svg").is_visible()
    qr_box = page.locator("[data-testid=claim-qr]").bounding_box()
    assert qr_box is not None and qr_box["width"] >= 250  # big enough to scan at the counter
    page.screenshot(path=str(shots / "studio-handover-phone.png"), full_page=True)
    claim_url = page.input_value("[data-testid=claim-url]")
    assert CLAIM_URL.match(claim_url), claim_url
    sms = page.get_attribute("[data-testid=sms-link]", "href") or ""
    mail = page.get_attribute("[data-testid=mail-link]", "href") or ""
    assert sms.startswith("sms:?&body=") and unquote(sms.split("body=", 1)[1]) == claim_url
    assert mail.startswith("mailto:?subject=") and unquote(mail.split("body=", 1)[1]) == claim_url
    page.close()
    return claim_url


def claim_as_citizen(ctx: BrowserContext, claim_url: str, username: str, shots: Path) -> int:
    """The citizen opens the claim link, logs in there and claims; the photo's id."""
    shown = open_page(ctx, claim_url)
    page = shown.page
    assert "광안리 사진관" in page.inner_text("[data-testid=claim-studio]")
    page.fill("#login-form input[name=login]", username)
    page.fill("#login-form input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("[data-testid=claim-login]")
    checked(shown)
    page.screenshot(path=str(shots / "studio-claim-phone.png"), full_page=True)
    assert not page.is_visible("[data-testid=open-photo]")  # only once claimed
    page.click("[data-testid=claim-submit]")
    page.wait_for_selector("[data-testid=claim-status][data-state=claimed]", timeout=CHAIN_WAIT_MS)
    link = page.get_attribute("[data-testid=open-photo]", "href") or ""
    match = re.search(r"#photo-(\d+)$", link)
    assert match, link
    with page.expect_navigation():
        page.click("[data-testid=open-photo]")
    checked(shown)
    return int(match.group(1))


def test_studio_to_customer_to_public(
    studio_site: Site,
    open_context: Callable[[Viewport], BrowserContext],
    tmp_path: Path,
    screenshot_dir: Path,
) -> None:
    base, context = studio_site.url, studio_site.context
    accounts = account_service_for(context)
    make_user(accounts, "gwangalli", Role.STUDIO)
    admin_id = make_user(accounts, "studio-admin", Role.ADMIN)
    make_user(accounts, "minji", Role.CITIZEN)

    studio_ctx = open_context(PHONE)
    log_in(studio_ctx, base, "gwangalli")
    register_studio(studio_ctx, base)
    service = StudioService(context)
    pending = service.studios("pending")
    assert len(pending) == 1
    assert service.approve(pending[0]["id"], admin_id)["status"] == "active"
    session_url = open_session(studio_ctx, base)
    claim_url = upload_and_issue(studio_ctx, session_url, tmp_path, screenshot_dir)

    citizen_ctx = open_context(PHONE)
    photo_id = claim_as_citizen(citizen_ctx, claim_url, "minji", screenshot_dir)
    shown = open_page(citizen_ctx, base + "/me/photos")
    page = shown.page
    card = page.locator(f"#photo-{photo_id}")
    cid = card.get_attribute("data-cid") or ""
    assert cid.startswith("b"), cid
    assert card.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert card.locator("[data-testid=download-original]").get_attribute("href") == (
        f"/api/studio/photos/{photo_id}/image?size=original"
    )
    with httpx.Client(base_url=base) as anonymous:
        assert anonymous.get(f"/ipfs/{cid}").status_code == 404  # private until published
        card.locator("[data-testid=publish-toggle]").check()
        page.wait_for_selector(
            f"#photo-{photo_id} [data-testid=publish-status][data-published=true]",
            timeout=CHAIN_WAIT_MS,
        )
        checked(shown)
        page.screenshot(path=str(screenshot_dir / "studio-my-photos-phone.png"), full_page=True)
        public = anonymous.get(f"/ipfs/{cid}")
        assert public.status_code == 200 and public.headers["content-type"] == "image/jpeg"

    tracking = open_page(studio_ctx, session_url)
    wait_text(tracking.page, "[data-count=claimed]", "1")
    assert tracking.page.inner_text("[data-count=uploaded]") == "1"
    checked(tracking)

    english = visit(open_context(PHONE), claim_url + "?lang=en")
    assert english.status == 200
    assert_language(english, "en")
    assert_fits_width(english, PHONE)
    english.assert_no_console_errors()
    assert "already been used" in english.page.inner_text("[data-testid=claim-taken]")
