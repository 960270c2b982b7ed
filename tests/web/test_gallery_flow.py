"""The gallery on phones in headless Chromium: list a photo, buy it, see the provenance.

An approved studio's photo is claimed and published by its owner (through the services: the
studio pages have their own browser test). The owner logs in on a phone, opens the work's
page and lists it for a price; a buyer logs in on another phone, finds it in the gallery,
opens it, checks the price split on the confirm step and pays. The page follows the purchase
to "sold"; once the indexer (running in the background, as the runtime runs it) has seen the
block, the provenance table shows the sale with its royalty, and the chain agrees: the
royalty receiver's DigitalWon balance grew by exactly that royalty.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext

from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.explorer.runner import run_indexer
from busanchain.gallery.service import GalleryService
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio.service import StudioService
from busanchain.web.app import create_app
from tests.studio.studio_support import address_of, approved_studio, upload_one, user
from tests.web.support import PHONE, Viewport, serve, visit
from tests.web.test_allowance_flow import CHAIN_WAIT_MS, checked, log_in, open_page
from tests.web.test_pages import assert_fits_width, assert_language

pytestmark = pytest.mark.browser

PRICE = 50_000
BUYER_FUNDS = 200_000
INDEX_WAIT_S = 30.0


@dataclass(frozen=True)
class GallerySite:
    """The served app, its context and a published work owned by "haeun"."""

    url: str
    context: PlatformContext
    token_id: int
    royalty_receiver: str
    buyer_address: str


def _publish_a_work(context: PlatformContext, owner_id: int) -> int:
    """An approved studio uploads, issues and hands a photo to `owner_id`, who publishes it."""
    studio = StudioService(context)
    admin_id = user(context, "gallery-flow-admin", Role.ADMIN)
    world = approved_studio(studio, "haeundae", "515000321", admin_id)
    photo = upload_one(studio, world, 77)
    _, issued = studio.issue(world.owner_id, int(str(photo["id"])), "flow-issue-key")
    status, claimed = studio.claim(owner_id, issued["claim_code"], None, "flow-claim-key")
    assert status == 200, claimed
    status, _ = studio.publish(owner_id, int(str(photo["id"])), True)
    assert status == 200
    return int(claimed["token_id"])


def _mint_won(gallery: GalleryService, to: str, amount: int) -> None:
    token = gallery.chain.token
    gallery.outbox.execute(
        signer=operator_signer(gallery.context.settings),
        intent="test.mint",
        to=token.address,
        data=gallery.chain.calldata(token, "mint", [to, amount, secrets.token_bytes(32)]),
    )


@pytest.fixture
def gallery_site(context: PlatformContext) -> Iterator[GallerySite]:
    """Contracts deployed, a published work, a funded buyer, the indexer running, served."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    owner_id = user(context, "haeun", Role.CITIZEN)
    buyer = address_of(context, user(context, "jiho", Role.CITIZEN))
    token_id = _publish_a_work(context, owner_id)
    gallery = GalleryService(context)
    _mint_won(gallery, buyer, BUYER_FUNDS)
    receiver, _ = gallery.chain.read(gallery.chain.nft, "royaltyInfo", [token_id, 10_000])
    stop = threading.Event()
    indexer = threading.Thread(target=run_indexer, args=(context, stop, 0.3), daemon=True)
    indexer.start()
    try:
        with serve(create_app(context)) as url:
            yield GallerySite(url, context, token_id, str(receiver), buyer)
    finally:
        stop.set()
        indexer.join(timeout=30)


def list_for_sale(ctx: BrowserContext, site: GallerySite, shots: Path) -> None:
    """The owner lists the work for PRICE on its page; the page then shows the price."""
    shown = open_page(ctx, f"{site.url}/gallery/tokens/{site.token_id}")
    page = shown.page
    assert page.get_attribute("[data-testid=work]", "data-role") == "owner"
    assert not page.is_visible("[data-testid=buy-box]")
    page.fill("#list-form input[name=price]", str(PRICE))
    with page.expect_navigation(timeout=CHAIN_WAIT_MS):  # the page reloads once listed
        page.click("[data-testid=list-submit]")
    checked(shown)
    assert page.inner_text("[data-testid=listing-price]").startswith(f"{PRICE:,}")
    assert page.is_visible("[data-testid=cancel-listing]")
    page.screenshot(path=str(shots / "gallery-listed-phone.png"), full_page=True)
    page.close()


def buy_through_confirm(ctx: BrowserContext, site: GallerySite, shots: Path) -> int:
    """The buyer finds the work in the gallery, opens it, confirms the split and pays; the
    royalty the confirm step showed."""
    shown = open_page(ctx, f"{site.url}/gallery")
    page = shown.page
    with page.expect_navigation():
        page.click(f"[data-testid=work-card][data-token='{site.token_id}']")
    checked(shown)
    assert page.get_attribute("[data-testid=work]", "data-role") == "member"
    assert page.locator("[data-testid=work-image]").evaluate(
        "img => img.complete && img.naturalWidth > 0"
    )
    assert not page.is_visible("[data-testid=buy-confirm]")
    page.click("[data-testid=buy]")
    assert page.is_visible("[data-testid=buy-confirm]")
    split = {
        name: int(page.inner_text(f"[data-testid=split-{name}]").replace(",", ""))
        for name in ("seller", "royalty", "fee")
    }
    assert sum(split.values()) == PRICE and split["royalty"] > 0, split
    page.screenshot(path=str(shots / "gallery-confirm-phone.png"), full_page=True)
    page.click("[data-testid=buy-confirm-submit]")
    page.wait_for_selector("[data-testid=buy-status][data-state=sold]", timeout=CHAIN_WAIT_MS)
    assert page.inner_text("[data-testid=listing-price]") == "판매 완료"
    assert "판매 완료" in page.inner_text("[data-testid=buy-status]")
    checked(shown)
    page.screenshot(path=str(shots / "gallery-sold-phone.png"), full_page=True)
    page.close()
    return split["royalty"]


def wait_for_sale_row(ctx: BrowserContext, site: GallerySite) -> dict[str, str]:
    """Reload the (now private, buyer-owned) page until the indexer shows the sale."""
    shown = open_page(ctx, f"{site.url}/gallery/tokens/{site.token_id}")
    page = shown.page
    deadline = time.monotonic() + INDEX_WAIT_S
    row = page.locator("[data-testid=provenance-row][data-kind=sale]")
    while row.count() == 0:
        assert time.monotonic() < deadline, "the sale never reached the provenance table"
        time.sleep(0.5)
        page.reload()
    checked(shown)
    assert page.get_attribute("[data-testid=work]", "data-role") == "owner"  # the buyer now
    assert page.is_visible("[data-testid=private-banner]")  # a transfer makes it private
    kinds = page.eval_on_selector_all(
        "[data-testid=provenance-row]", "rows => rows.map(r => r.dataset.kind)"
    )
    assert kinds[0] in ("claim", "mint") and {"publish", "transfer", "sale"} <= set(kinds)
    found = {
        "price": row.first.get_attribute("data-price") or "",
        "royalty": row.first.get_attribute("data-royalty") or "",
    }
    page.close()
    return found


def test_list_buy_and_provenance_on_phones(
    gallery_site: GallerySite,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
) -> None:
    site = gallery_site
    chain = GalleryService(site.context).chain
    english = visit(open_context(PHONE), f"{site.url}/gallery/tokens/{site.token_id}?lang=en")
    assert english.status == 200
    assert_language(english, "en")
    assert_fits_width(english, PHONE)
    english.assert_no_console_errors()

    owner_ctx = open_context(PHONE)
    log_in(owner_ctx, site.url, "haeun")
    list_for_sale(owner_ctx, site, screenshot_dir)

    receiver_before = chain.balance(site.royalty_receiver)
    buyer_before = chain.balance(site.buyer_address)
    buyer_ctx = open_context(PHONE)
    log_in(buyer_ctx, site.url, "jiho")
    royalty = buy_through_confirm(buyer_ctx, site, screenshot_dir)

    assert chain.balance(site.royalty_receiver) - receiver_before == royalty
    assert buyer_before - chain.balance(site.buyer_address) == PRICE
    assert chain.owner(site.token_id) == site.buyer_address
    assert wait_for_sale_row(buyer_ctx, site) == {"price": str(PRICE), "royalty": str(royalty)}
    with httpx.Client(base_url=site.url) as anonymous:  # private again: no leak
        hidden = anonymous.get(f"/gallery/tokens/{site.token_id}")
        assert hidden.status_code == 404 and "work-image" not in hidden.text
