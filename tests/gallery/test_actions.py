"""Ending things on chain (gallery/actions.py), on real anvil: a seller's auction cancel, a
moderator's cancel of a frozen work's auction, one order cancelled on chain, and a credit
(a payout that failed while DigitalWon was paused) withdrawn to the payee's wallet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from busanchain.domain.errors import TransactionReverted
from busanchain.gallery import repository as repo
from busanchain.gallery.tables import GalleryOrder
from busanchain.platform.operator import operator_signer
from tests.gallery.conftest import GalleryWorld
from tests.gallery.test_auctions_and_moderation import bid
from tests.token.conftest import Actor

CANCELLED_ON_CHAIN = 2  # Gallery.OrderStatus.Cancelled


def start_auction(world: GalleryWorld, token_id: int, seconds: int = 3600) -> dict[str, Any]:
    """The seller auctions `token_id` through the API (reserve 10,000)."""
    seller = world.seller
    body = {"token_id": token_id, "reserve": 10_000, "start": 0, "end": world.now() + seconds}
    created = seller.client.post("/api/gallery/auctions", json=body, headers=seller.headers)
    assert created.status_code == 201, created.text
    return dict(created.json())


def post(who: Actor, path: str, key: str | None = None) -> Any:
    """POST with the CSRF header and, if given, an Idempotency-Key."""
    headers = {**who.headers, **({"Idempotency-Key": key} if key else {})}
    return who.client.post(path, headers=headers)


def test_the_seller_cancels_an_auction_only_before_a_bid_and_before_its_end(
    world: GalleryWorld,
) -> None:
    chain, seller, buyer = world.gallery.chain, world.seller, world.buyer
    auction = start_auction(world, world.token_id)
    url = f"/api/gallery/auctions/{auction['id']}/cancel"
    assert post(buyer, url).status_code == 403
    assert post(buyer, "/api/gallery/auctions/999999/cancel").status_code == 404
    cancelled = post(seller, url)
    assert cancelled.status_code == 200, cancelled.text
    view = cancelled.json()
    assert view["state"] == view["chain_state"] == "cancelled"
    assert chain.owner(world.token_id) == seller.address  # back from escrow
    assert world.gallery.token(world.token_id)["auction_id"] is None
    again = post(seller, url)
    assert again.status_code == 409, again.text

    second = start_auction(world, world.token_id)
    status, placed = bid(buyer, second["id"], 10_000, "bid-before-cancel")
    assert status == 200, placed
    url = f"/api/gallery/auctions/{second['id']}/cancel"
    ko, en = post(seller, url), post(seller, url + "?lang=en")
    assert ko.status_code == en.status_code == 409
    assert ko.json()["error"]["message"] == "입찰이 들어온 경매는 취소할 수 없습니다"
    assert en.json()["error"]["message"] == "An auction with a bid cannot be cancelled"
    assert chain.owner(world.token_id) == chain.gallery.address  # still escrowed

    other, _ = world.claimed_photo(seller, 2)
    third = start_auction(world, other, seconds=120)
    world.advance(121)
    over = post(seller, f"/api/gallery/auctions/{third['id']}/cancel?lang=ko")
    assert over.status_code == 409 and over.json()["error"]["message"] == "경매가 끝났습니다"
    assert chain.owner(other) == chain.gallery.address


def test_a_moderator_cancels_a_frozen_works_auction_and_the_bidder_is_refunded(
    world: GalleryWorld,
) -> None:
    chain, admin, buyer, seller = world.gallery.chain, world.admin, world.buyer, world.seller
    auction = start_auction(world, world.token_id)
    before = world.won(buyer.address)
    status, placed = bid(buyer, auction["id"], 15_000, "bid-then-frozen")
    assert status == 200, placed
    assert world.won(buyer.address) == before - 15_000
    url = f"/api/gallery/auctions/{auction['id']}/cancel-frozen"
    not_frozen = post(admin, url, "cancel-not-frozen-1")
    assert not_frozen.status_code == 409, not_frozen.text
    assert not_frozen.json()["error"]["message"] == "거래 정지 상태가 아닙니다"
    frozen = admin.client.post(
        f"/api/gallery/tokens/{world.token_id}/freeze",
        json={"reason_code": "theft"},
        headers=admin.headers,
    )
    assert frozen.status_code == 200, frozen.text
    page = f"/gallery/tokens/{world.token_id}"
    assert 'data-testid="cancel-frozen"' in admin.client.get(page).text
    assert 'data-testid="cancel-frozen"' not in buyer.client.get(page).text
    assert post(buyer, url, "cancel-by-citizen-1").status_code == 403
    assert post(admin, url).status_code == 422  # no Idempotency-Key
    done = post(admin, url, "cancel-frozen-0001")
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["state"] == "confirmed" and answer["auction"]["state"] == "cancelled"
    assert answer["auction"]["escrow"] == 0
    assert world.won(buyer.address) == before  # refunded
    assert chain.owner(world.token_id) == seller.address
    replay = post(admin, url, "cancel-frozen-0001")
    assert replay.status_code == 200 and replay.json() == answer
    assert post(admin, url, "cancel-frozen-0002").status_code == 409  # over


def _leaked_buy_reverts(world: GalleryWorld, order_id: int) -> str | None:
    """Fill the listing's stored signature as a thief holding a matcher co-signature would;
    the revert reason, or None if the call would go through."""
    gallery, chain = world.gallery, world.gallery.chain
    with world.context.unit_of_work() as session:
        row = repo.get(session, GalleryOrder, order_id)
        assert row is not None
        order = (row.maker, row.side, row.token_id, row.price, row.expiry, row.nonce)
        salt, signature, order_hash, price = int(row.salt), row.signature, row.order_hash, row.price
    thief = gallery._signer(world.buyer.user_id)
    now = world.now()
    auth = gallery._fill_auth(order_hash, thief.address, now)
    permit = gallery._permit(thief, price, now)
    args = [(*order, salt), bytes.fromhex(signature[2:]), auth, permit]
    data = chain.calldata(chain.gallery, "buyWithPermit", args)
    try:
        gallery.outbox.estimate(thief, chain.gallery.address, data)
    except TransactionReverted as exc:
        return str(exc.details.get("reason"))
    return None


def test_one_order_is_cancelled_on_chain_so_a_leaked_signature_never_fills(
    world: GalleryWorld,
) -> None:
    chain, seller, buyer = world.gallery.chain, world.seller, world.buyer
    body = {"token_id": world.token_id, "price": 5_000, "expiry": world.now() + 3600}
    listing = seller.client.post("/api/gallery/listings", json=body, headers=seller.headers).json()
    offer = buyer.client.post("/api/gallery/offers", json=body, headers=buyer.headers).json()
    assert _leaked_buy_reverts(world, listing["id"]) is None  # the signature is live
    url = f"/api/gallery/listings/{listing['id']}/cancel-onchain"
    assert post(buyer, url).status_code == 404  # not the maker's
    assert post(seller, f"/api/gallery/offers/{listing['id']}/cancel-onchain").status_code == 404
    done = post(seller, url)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["state"] == "cancelled" and answer["onchain"] == "cancelled"
    assert answer["tx_hash"]
    status = chain.read_one(chain.gallery, "orderStatus", [listing["order_hash"]])
    assert int(status) == CANCELLED_ON_CHAIN
    assert "OrderNotOpen" in (_leaked_buy_reverts(world, listing["id"]) or "")
    again = post(seller, url)
    assert again.status_code == 200 and again.json()["tx_hash"] is None  # nothing to send
    withdrawn = post(buyer, f"/api/gallery/offers/{offer['id']}/cancel-onchain")
    assert withdrawn.status_code == 200, withdrawn.text
    status = chain.read_one(chain.gallery, "orderStatus", [offer["order_hash"]])
    assert int(status) == CANCELLED_ON_CHAIN


def test_an_order_that_can_no_longer_fill_is_not_cancelled_on_chain(world: GalleryWorld) -> None:
    seller = world.seller
    body = {"token_id": world.token_id, "price": 5_000, "expiry": world.now() + 3600}
    listing = seller.client.post("/api/gallery/listings", json=body, headers=seller.headers).json()
    assert post(seller, "/api/gallery/me/cancel-all").status_code == 200
    refused = post(seller, f"/api/gallery/listings/{listing['id']}/cancel-onchain?lang=en")
    assert refused.status_code == 409, refused.text
    assert "nothing to cancel on chain" in refused.json()["error"]["message"]


@contextmanager
def paused_won(world: GalleryWorld) -> Iterator[None]:
    """DigitalWon paused (the operator is its pauser), unpaused afterwards whatever happens."""
    token, operator = world.gallery.chain.token, operator_signer(world.context.settings)

    def call(fn: str) -> None:
        world.gallery.outbox.execute(
            signer=operator,
            intent=f"test.{fn}",
            to=token.address,
            data=world.gallery.chain.calldata(token, fn, []),
        )

    call("pause")
    try:
        yield
    finally:
        call("unpause")


def test_a_payout_that_failed_becomes_a_credit_the_payee_withdraws(world: GalleryWorld) -> None:
    chain, seller, buyer = world.gallery.chain, world.seller, world.buyer
    auction = start_auction(world, world.token_id)
    status, placed = bid(buyer, auction["id"], 20_000, "bid-for-credit-1")
    assert status == 200, placed
    world.advance(3601)
    settle_url = f"/api/gallery/auctions/{auction['id']}/settle"
    with paused_won(world):  # the settlement cannot pay anyone: every share is credited
        settled = post(buyer, settle_url)
        assert settled.status_code == 200, settled.text
        refused = post(seller, "/api/gallery/me/withdraw", "withdraw-paused-1")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["message"].startswith("디지털원 이체가 일시 정지")
    sale = settled.json()["sale"]
    assert chain.owner(world.token_id) == buyer.address
    proceeds = sale["seller_proceeds"]
    assert proceeds > 0 and world.won(seller.address) == 0
    assert seller.client.get("/api/gallery/me/credit").json() == {
        "address": seller.address,
        "credit": proceeds,
    }
    page = seller.client.get("/gallery/me")
    assert page.status_code == 200 and f'data-credit="{proceeds}"' in page.text
    assert 'data-testid="credit-box"' not in buyer.client.get("/gallery/me").text

    assert post(seller, "/api/gallery/me/withdraw").status_code == 422  # no key
    done = post(seller, "/api/gallery/me/withdraw", "withdraw-credit-1")
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["state"] == "confirmed" and answer["amount"] == proceeds
    assert answer["to"] == seller.address and answer["credit"] == 0
    assert world.won(seller.address) == proceeds
    assert int(chain.read_one(chain.gallery, "totalCredits", [])) == sale["royalty"] + sale["fee"]
    replay = post(seller, "/api/gallery/me/withdraw", "withdraw-credit-1")
    assert replay.status_code == 200 and replay.json() == answer
    assert world.won(seller.address) == proceeds  # paid once
    empty = post(seller, "/api/gallery/me/withdraw?lang=en", "withdraw-credit-2")
    assert empty.status_code == 409
    assert empty.json()["error"]["message"] == "You have no credit to withdraw"
    assert 'data-testid="credit-box"' not in seller.client.get("/gallery/me").text


def test_my_credit_needs_a_login(world: GalleryWorld) -> None:
    anonymous = world.seller.client
    assert 'href="/gallery/me"' in anonymous.get("/gallery").text
    anonymous.cookies.clear()
    assert 'href="/gallery/me"' not in anonymous.get("/gallery").text
    assert anonymous.get("/api/gallery/me/credit").status_code == 401
    page = anonymous.get("/gallery/me", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"


def test_a_bid_still_in_the_outbox_blocks_the_sellers_cancel(world: GalleryWorld) -> None:
    gallery, buyer = world.gallery, world.buyer
    auction = start_auction(world, world.token_id)
    signer = gallery._signer(buyer.user_id)
    gallery._top_up_gas(signer.address)
    with world.context.unit_of_work() as session:  # signed and committed, not broadcast yet
        _, answer = gallery._enqueue_bid(session, auction["id"], signer, buyer.user_id, 10_000)
    refused = post(world.seller, f"/api/gallery/auctions/{auction['id']}/cancel?lang=ko")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["message"] == "입찰이 들어온 경매는 취소할 수 없습니다"
    entry_id = int(answer["bid"]["operation_id"])
    gallery.outbox.broadcast(entry_id)
    assert gallery.outbox.wait(entry_id, 10).status == "confirmed"
    assert gallery.auction(auction["id"])["highest_bidder"] == buyer.address


def test_my_orders_lists_only_my_open_orders(world: GalleryWorld) -> None:
    seller, buyer = world.seller, world.buyer
    body = {"token_id": world.token_id, "price": 5_000, "expiry": world.now() + 3600}
    listing = seller.client.post("/api/gallery/listings", json=body, headers=seller.headers).json()
    offer = buyer.client.post("/api/gallery/offers", json=body, headers=buyer.headers).json()

    def mine(who: Actor) -> list[tuple[int, str]]:
        answer = who.client.get("/api/gallery/me/orders")
        assert answer.status_code == 200, answer.text
        return [(o["id"], o["side"]) for o in answer.json()["items"]]

    assert mine(seller) == [(listing["id"], "listing")]
    assert mine(buyer) == [(offer["id"], "offer")]
    cancelled = buyer.client.delete(f"/api/gallery/offers/{offer['id']}", headers=buyer.headers)
    assert cancelled.status_code == 200
    assert mine(buyer) == []
    assert mine(seller) == [(listing["id"], "listing")]
    seller.client.cookies.clear()
    assert seller.client.get("/api/gallery/me/orders").status_code == 401
