"""My open listings and offers on "my gallery", on phones in headless Chromium (real anvil).

The buyer withdraws an offer with "취소" (off chain, free). The owner cancels one listing on
chain with "체인에서 취소" (for a signature that may have leaked: the contract then reports it
cancelled), lists again, and cancels everything with one on-chain nonce bump.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from busanchain.accounts import repository as accounts_repo
from busanchain.gallery.actions import ORDER_STATUSES
from busanchain.gallery.service import GalleryService
from busanchain.gallery.tables import GalleryOrder, OrderState
from tests.web.support import PHONE, Viewport
from tests.web.test_allowance_flow import CHAIN_WAIT_MS, checked, log_in, open_page
from tests.web.test_gallery_flow import GallerySite, gallery_site  # noqa: F401 (fixture)
from tests.web.test_pages import assert_fits_width

pytestmark = pytest.mark.browser

DAY = 86_400


def _user_id(site: GallerySite, login: str) -> int:
    with site.context.unit_of_work() as session:
        found = accounts_repo.user_by_login(session, login)
        assert found is not None
        return found.id


def _state(site: GallerySite, order_id: int) -> str:
    with site.context.unit_of_work() as session:
        row = session.get(GalleryOrder, order_id)
        assert row is not None
        return row.state


def _press(ctx: BrowserContext, site: GallerySite, selector: str, shots: Path | None) -> None:
    """Open "my gallery", press a button of the orders box; the page reloads without it."""
    shown = open_page(ctx, f"{site.url}/gallery/me")
    page = shown.page
    assert page.locator("[data-testid=order]").count() >= 1
    if shots is not None:
        assert_fits_width(shown, PHONE)
        page.screenshot(path=str(shots / "gallery-my-orders-phone.png"), full_page=True)
    with page.expect_navigation(timeout=CHAIN_WAIT_MS):
        page.click(selector)
    checked(shown)
    page.close()


def _listed(gallery: GalleryService, owner_id: int, site: GallerySite, price: int) -> int:
    expiry = gallery.chain.chain_time() + DAY
    return int(gallery.create_listing(owner_id, site.token_id, price, expiry)["id"])


def test_cancel_an_offer_a_listing_on_chain_and_everything_on_phones(
    gallery_site: GallerySite,  # noqa: F811 (fixture)
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    site = gallery_site
    gallery = GalleryService(site.context)
    owner_id, buyer_id = _user_id(site, "haeun"), _user_id(site, "jiho")
    expiry = gallery.chain.chain_time() + DAY
    offer = int(gallery.create_offer(buyer_id, site.token_id, 30_000, expiry)["id"])

    buyer = open_context(PHONE)
    log_in(buyer, site.url, "jiho")
    _press(buyer, site, "[data-testid=cancel-order]", screenshot_dir)
    assert _state(site, offer) == OrderState.CANCELLED
    assert open_page(buyer, f"{site.url}/gallery/me").page.is_visible("[data-testid=no-orders]")

    owner = open_context(PHONE)
    log_in(owner, site.url, "haeun")
    leaked = _listed(gallery, owner_id, site, 40_000)
    _press(owner, site, "[data-testid=cancel-order-onchain]", None)
    assert _state(site, leaked) == OrderState.CANCELLED
    with site.context.unit_of_work() as session:
        order_hash = session.get(GalleryOrder, leaked).order_hash  # type: ignore[union-attr]
    status = gallery.chain.read_one(gallery.chain.gallery, "orderStatus", [order_hash])
    assert ORDER_STATUSES[int(status)] == "cancelled"

    again = _listed(gallery, owner_id, site, 45_000)
    _press(owner, site, "[data-testid=cancel-all]", None)
    assert _state(site, again) == OrderState.CANCELLED
    owner_address = gallery.chain.owner(site.token_id)
    assert int(gallery.chain.read_one(gallery.chain.gallery, "makerNonce", [owner_address])) == 1
    assert open_page(owner, f"{site.url}/gallery/me").page.is_visible("[data-testid=no-orders]")
