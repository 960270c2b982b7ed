"""Claim and publish in one step, in headless Chromium on a phone, through the claim page.

The studio and one issued photo are made through the service (their pages are covered by
test_studio_flow.py). The customer, who also has a linked external wallet, opens the claim
link while logged in. Choosing the external wallet disables "also show it in the gallery"
(the platform cannot sign for that wallet); back on the platform wallet the box is ticked and
the photo is received. One transaction later the photo is public: its image answers an
anonymous visitor, and the gallery's public API says it is published.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext
from web3 import Web3

from busanchain.accounts.service import account_service_for
from busanchain.accounts.tables import LinkedWallet
from busanchain.domain.roles import Role
from busanchain.studio.service import StudioService
from busanchain.studio.tables import PhotoRecord
from tests.accounts.conftest import make_user
from tests.web.support import PHONE, Viewport
from tests.web.test_allowance_flow import CHAIN_WAIT_MS, Site, checked, log_in, open_page
from tests.web.test_studio_reissue_flow import studio_site, studio_with_issued_photo

__all__ = ["studio_site"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.browser


def test_a_customer_claims_and_publishes_in_one_step(
    studio_site: Site,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    base, context = studio_site.url, studio_site.context
    _session_url, photo_id, claim_url = studio_with_issued_photo(context, base)
    citizen = make_user(account_service_for(context), "minji-pub", Role.CITIZEN)
    external = Web3.to_checksum_address("0x" + "5e" * 20)
    with context.unit_of_work() as session:
        session.add(LinkedWallet(user_id=citizen, address=external))
    with context.unit_of_work() as session:
        record = session.get(PhotoRecord, photo_id)
        assert record is not None
        cid = record.cid

    ctx = open_context(PHONE)
    log_in(ctx, base, "minji-pub")
    shown = open_page(ctx, claim_url)
    page = shown.page
    box = page.locator("[data-testid=claim-publish]")
    assert box.is_enabled() and not box.is_checked()  # private unless the owner says so
    page.check(f"input[name=to][value='{external}']")
    assert box.is_disabled()
    page.check("input[name=to][value='']")
    box.check()
    page.screenshot(path=str(screenshot_dir / "studio-claim-publish-phone.png"), full_page=True)
    with httpx.Client(base_url=base) as anonymous:
        assert anonymous.get(f"/ipfs/{cid}").status_code == 404  # private before the claim
        page.click("[data-testid=claim-submit]")
        page.wait_for_selector(
            "[data-testid=claim-status][data-state=claimed]", timeout=CHAIN_WAIT_MS
        )
        checked(shown)
        assert "갤러리에도 공개" in page.inner_text("[data-testid=claim-status]")
        image = anonymous.get(f"/ipfs/{cid}")
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        photo = StudioService(context).photo(citizen, photo_id)
        token = anonymous.get(f"/api/gallery/tokens/{photo['token_id']}")
        assert token.status_code == 200 and token.json()["published"] is True
    assert photo["state"] == "claimed" and photo["published"]
