"""Ending an auction from the work's page, on phones in headless Chromium (real anvil).

The owner starts an auction on the page and cancels it with "경매 취소" while no one has bid;
the work comes back from the gallery's escrow. The owner auctions it again, a buyer bids on
another phone, and the seller's cancel button is gone. Once the chain's clock has passed the
end, the buyer's page shows "경매 정산"; settling hands the work to the buyer on chain.

A settlement while DigitalWon is paused cannot pay the seller: the contract credits them.
The seller's "my gallery" page shows that credit, and its button withdraws it to their wallet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from busanchain.gallery.service import GalleryService
from busanchain.platform.operator import operator_signer
from tests.web.support import PHONE, PageVisit, Viewport
from tests.web.test_allowance_flow import CHAIN_WAIT_MS, checked, log_in, open_page
from tests.web.test_gallery_flow import GallerySite, gallery_site  # noqa: F401 (fixture)
from tests.web.test_pages import assert_fits_width

pytestmark = pytest.mark.browser

RESERVE = 1_000


def press(shown: PageVisit, selector: str) -> None:
    """Press a button that reloads the page once the chain has answered; check the page."""
    with shown.page.expect_navigation(timeout=CHAIN_WAIT_MS):
        shown.page.click(selector)
    checked(shown)


def start_auction(page: Page) -> None:
    """The owner fills in the auction form (one hour); the page reloads with the auction."""
    page.fill("#auction-form input[name=reserve]", str(RESERVE))
    page.fill("#auction-form input[name=hours]", "1")
    with page.expect_navigation(timeout=CHAIN_WAIT_MS):
        page.click("[data-testid=auction-submit]")
    assert page.is_visible("[data-testid=auction]")


def cancel_before_a_bid(ctx: BrowserContext, site: GallerySite, shots: Path) -> str:
    """The owner auctions the work and cancels it; the owner's address."""
    chain = GalleryService(site.context).chain
    owner = chain.owner(site.token_id)
    shown = open_page(ctx, f"{site.url}/gallery/tokens/{site.token_id}")
    page = shown.page
    start_auction(page)
    checked(shown)
    assert chain.owner(site.token_id) == chain.gallery.address  # escrowed
    assert page.is_visible("[data-testid=cancel-auction]")
    assert not page.is_visible("[data-testid=settle-box]")  # not ended yet
    assert page.inner_text("[data-testid=cancel-auction]") == "경매 취소"
    assert_fits_width(shown, PHONE)
    page.screenshot(path=str(shots / "gallery-auction-cancel-phone.png"), full_page=True)
    press(shown, "[data-testid=cancel-auction]")
    assert page.locator("[data-testid=auction]").count() == 0
    assert page.is_visible("[data-testid=auction-form]")  # may be auctioned again
    assert chain.owner(site.token_id) == owner
    page.close()
    return owner


def bid_once(ctx: BrowserContext, site: GallerySite) -> None:
    """The buyer bids the minimum; the seller's cancel button is not shown to them."""
    shown = open_page(ctx, f"{site.url}/gallery/tokens/{site.token_id}")
    page = shown.page
    assert page.locator("[data-testid=cancel-auction]").count() == 0
    press(shown, "[data-testid=bid-submit]")
    assert page.inner_text("[data-testid=highest-bid]").startswith(f"{RESERVE:,}")
    page.close()


def settle_after_the_end(ctx: BrowserContext, site: GallerySite, shots: Path) -> None:
    """The buyer's page offers settling once the auction has ended; settling gives them it."""
    shown = open_page(ctx, f"{site.url}/gallery/tokens/{site.token_id}")
    page = shown.page
    assert page.is_visible("[data-testid=settle-box]")
    assert page.inner_text("[data-testid=settle-auction]") == "경매 정산"
    assert page.inner_text("[data-testid=countdown]") == "마감됨"
    assert_fits_width(shown, PHONE)
    page.screenshot(path=str(shots / "gallery-auction-settle-phone.png"), full_page=True)
    press(shown, "[data-testid=settle-auction]")
    assert page.get_attribute("[data-testid=work]", "data-role") == "owner"  # the buyer now
    assert page.locator("[data-testid=auction]").count() == 0
    page.close()


def advance(gallery: GalleryService, seconds: int) -> None:
    """Move the chain's clock forward and mine a block."""
    gallery.outbox.client.request("evm_increaseTime", [seconds])
    gallery.outbox.client.request("evm_mine", [])


def test_cancel_an_auction_then_settle_one_on_phones(
    gallery_site: GallerySite,  # noqa: F811 (fixture)
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    site = gallery_site
    gallery = GalleryService(site.context)
    owner_ctx = open_context(PHONE)
    log_in(owner_ctx, site.url, "haeun")
    cancel_before_a_bid(owner_ctx, site, screenshot_dir)

    again = open_page(owner_ctx, f"{site.url}/gallery/tokens/{site.token_id}")
    start_auction(again.page)
    again.page.close()
    buyer_ctx = open_context(PHONE)
    log_in(buyer_ctx, site.url, "jiho")
    bid_once(buyer_ctx, site)
    seller_view = open_page(owner_ctx, f"{site.url}/gallery/tokens/{site.token_id}")
    assert seller_view.page.locator("[data-testid=cancel-auction]").count() == 0  # has a bid
    assert not seller_view.page.is_visible("[data-testid=settle-box]")
    seller_view.page.close()

    advance(gallery, 3_601)
    settle_after_the_end(buyer_ctx, site, screenshot_dir)
    assert gallery.chain.owner(site.token_id) == site.buyer_address


def pause_won(gallery: GalleryService, fn: str) -> None:
    """`pause` or `unpause` DigitalWon (the operator is its pauser)."""
    token = gallery.chain.token
    gallery.outbox.execute(
        signer=operator_signer(gallery.context.settings),
        intent=f"test.{fn}",
        to=token.address,
        data=gallery.chain.calldata(token, fn, []),
    )


def withdraw_on_my_page(ctx: BrowserContext, site: GallerySite, shots: Path) -> int:
    """The seller's "my gallery" page shows the credit; the button withdraws it; the amount."""
    shown = open_page(ctx, f"{site.url}/gallery/me")
    page = shown.page
    assert page.is_visible("[data-testid=my-gallery]")
    credit = int(page.get_attribute("[data-testid=credit-box]", "data-credit") or "0")
    assert credit > 0
    assert_fits_width(shown, PHONE)
    page.screenshot(path=str(shots / "gallery-credit-phone.png"), full_page=True)
    page.click("[data-testid=withdraw]")
    page.wait_for_selector("[data-testid=withdraw-status][data-state=done]", timeout=CHAIN_WAIT_MS)
    assert f"{credit:,}" in page.inner_text("[data-testid=withdraw-status]")
    checked(shown)
    page.reload()
    assert page.locator("[data-testid=credit-box]").count() == 0
    page.close()
    return credit


def test_a_credit_from_a_paused_payout_is_withdrawn_on_my_page(
    gallery_site: GallerySite,  # noqa: F811 (fixture)
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    site = gallery_site
    gallery = GalleryService(site.context)
    owner_ctx = open_context(PHONE)
    log_in(owner_ctx, site.url, "haeun")
    seller = gallery.chain.owner(site.token_id)
    auctioning = open_page(owner_ctx, f"{site.url}/gallery/tokens/{site.token_id}")
    start_auction(auctioning.page)
    auctioning.page.close()
    buyer_ctx = open_context(PHONE)
    log_in(buyer_ctx, site.url, "jiho")
    bid_once(buyer_ctx, site)
    advance(gallery, 3_601)
    before = gallery.chain.balance(seller)
    pause_won(gallery, "pause")
    try:
        settle_after_the_end(buyer_ctx, site, screenshot_dir)
    finally:
        pause_won(gallery, "unpause")
    assert gallery.chain.balance(seller) == before  # not paid: credited
    credit = int(gallery.chain.read_one(gallery.chain.gallery, "credits", [seller]))
    assert withdraw_on_my_page(owner_ctx, site, screenshot_dir) == credit
    assert gallery.chain.balance(seller) - before == credit
    assert int(gallery.chain.read_one(gallery.chain.gallery, "credits", [seller])) == 0
