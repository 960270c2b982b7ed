"""Listings, buying, cancels and offers through the JSON API on a real anvil and database."""

from __future__ import annotations

from sqlalchemy import func, select

from busanchain.gallery.tables import GallerySale
from busanchain.outbox.tables import OutboxEntry
from busanchain.studio.tables import PhotoRecord
from tests.gallery.conftest import GalleryWorld
from tests.token.conftest import Actor

PRICE = 100_000


def list_token(world: GalleryWorld, who: Actor, token_id: int, price: int = PRICE) -> dict:
    body = {"token_id": token_id, "price": price, "expiry": world.now() + 3600}
    response = who.client.post("/api/gallery/listings", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


def buy(who: Actor, order_id: int, key: str) -> tuple[int, dict]:
    headers = {**who.headers, "Idempotency-Key": key}
    response = who.client.post(f"/api/gallery/listings/{order_id}/buy", headers=headers)
    return response.status_code, response.json()


def sent_by(world: GalleryWorld, address: str) -> int:
    with world.context.unit_of_work() as session:
        query = select(func.count()).select_from(OutboxEntry).where(OutboxEntry.sender == address)
        return int(session.scalar(query) or 0)


def test_list_then_buy_splits_the_price_exactly(world: GalleryWorld) -> None:
    chain, seller, buyer = world.gallery.chain, world.seller, world.buyer
    order = list_token(world, seller, world.token_id)
    assert order["state"] == "open" and order["side"] == "listing"
    assert sent_by(world, seller.address) == 0  # listing cost the seller no transaction
    operator = world.gallery.operator.address
    before = {
        a: world.won(a) for a in (seller.address, buyer.address, world.royalty_receiver, operator)
    }
    status, answer = buy(buyer, order["id"], "buy-key-00001")
    assert status == 200, answer
    sale = answer["sale"]
    assert answer["order"]["state"] == "filled"
    assert sale["price"] == PRICE == sale["seller_proceeds"] + sale["royalty"] + sale["fee"]
    assert sale["fee"] == PRICE * 250 // 10_000 and sale["royalty"] > 0
    assert sale["royalty_receiver"] == world.royalty_receiver
    assert world.won(buyer.address) == before[buyer.address] - PRICE
    assert world.won(seller.address) == before[seller.address] + sale["seller_proceeds"]
    assert world.won(world.royalty_receiver) == before[world.royalty_receiver] + sale["royalty"]
    assert world.won(operator) == before[operator] + sale["fee"]
    assert chain.owner(world.token_id) == buyer.address
    with world.context.unit_of_work() as session:
        photo = session.get(PhotoRecord, world.photo_id)
        assert photo is not None
        assert photo.owner_address == buyer.address and photo.published is False
    # the same key replays the first answer: one sale, one transaction
    again_status, again = buy(buyer, order["id"], "buy-key-00001")
    assert (again_status, again) == (status, answer)
    with world.context.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(GallerySale)) == 1
    # a filled listing can never be bought again
    late_status, late = buy(world.bidder, order["id"], "buy-key-00002")
    assert late_status == 409 and late["error"]["code"] == "order_closed", late


def test_off_chain_cancel_then_buy_is_refused_and_sends_nothing(world: GalleryWorld) -> None:
    order = list_token(world, world.seller, world.token_id)
    other = world.buyer.client.delete(
        f"/api/gallery/listings/{order['id']}", headers=world.buyer.headers
    )
    assert other.status_code == 404
    cancelled = world.seller.client.delete(
        f"/api/gallery/listings/{order['id']}", headers=world.seller.headers
    )
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    status, answer = buy(world.buyer, order["id"], "buy-cancelled-1")
    assert status == 409, answer
    assert sent_by(world, world.buyer.address) == 0
    assert world.gallery.chain.owner(world.token_id) == world.seller.address


def test_nonce_bump_cancels_every_open_order(world: GalleryWorld) -> None:
    first = list_token(world, world.seller, world.token_id, 50_000)
    second = list_token(world, world.seller, world.token_id, 60_000)
    response = world.seller.client.post("/api/gallery/me/cancel-all", headers=world.seller.headers)
    assert response.status_code == 200, response.text
    assert response.json()["cancelled"] == 2 and response.json()["nonce"] == 1
    for order in (first, second):
        assert world.gallery.order(order["id"])["state"] == "cancelled"
    status, _ = buy(world.buyer, second["id"], "buy-after-bump")
    assert status == 409
    fresh = list_token(world, world.seller, world.token_id, 70_000)
    assert fresh["nonce"] == 1
    status, answer = buy(world.buyer, fresh["id"], "buy-after-bump-2")
    assert status == 200, answer


def test_offer_is_accepted_by_the_owner(world: GalleryWorld) -> None:
    body = {"token_id": world.token_id, "price": 80_000, "expiry": world.now() + 3600}
    made = world.buyer.client.post("/api/gallery/offers", json=body, headers=world.buyer.headers)
    assert made.status_code == 201, made.text
    offer_id = made.json()["id"]
    path = f"/api/gallery/offers/{offer_id}/accept"
    stranger = world.bidder.client.post(
        path, headers={**world.bidder.headers, "Idempotency-Key": "accept-stranger-1"}
    )
    assert stranger.status_code == 403, stranger.text
    before = world.won(world.buyer.address)
    accepted = world.seller.client.post(
        path, headers={**world.seller.headers, "Idempotency-Key": "accept-offer-0001"}
    )
    assert accepted.status_code == 200, accepted.text
    sale = accepted.json()["sale"]
    assert sale["kind"] == "offer" and sale["buyer"] == world.buyer.address
    assert sale["seller_proceeds"] + sale["royalty"] + sale["fee"] == 80_000
    assert world.won(world.buyer.address) == before - 80_000
    assert world.gallery.chain.owner(world.token_id) == world.buyer.address


def test_a_poor_buyer_an_expired_listing_and_a_stale_order_are_refused(world: GalleryWorld) -> None:
    order = list_token(world, world.seller, world.token_id, 5_000_000)
    status, answer = buy(world.buyer, order["id"], "buy-poor-00001")
    assert status == 422 and answer["error"]["code"] == "insufficient_funds", answer
    short = world.seller.client.post(
        "/api/gallery/listings",
        json={"token_id": world.token_id, "price": 1_000, "expiry": world.now() + 60},
        headers=world.seller.headers,
    ).json()
    world.advance(120)
    status, answer = buy(world.buyer, short["id"], "buy-expired-001")
    assert status == 409 and world.gallery.order(short["id"])["state"] == "expired", answer
    cheap = list_token(world, world.seller, world.token_id, 1_000)
    status, _ = buy(world.bidder, cheap["id"], "buy-cheap-00001")
    assert status == 200
    assert world.gallery.order(order["id"])["state"] == "stale"  # seller no longer owns it
    status, answer = buy(world.buyer, order["id"], "buy-stale-00001")
    assert status == 409, answer
    assert sent_by(world, world.buyer.address) == 0
