"""Auctions (outbid refund, anti-sniping extension, settlement) and moderation on real anvil."""

from __future__ import annotations

import pytest

from busanchain.domain.errors import Conflict
from tests.gallery.conftest import GalleryWorld
from tests.token.conftest import Actor


def bid(who: Actor, auction_id: int, amount: int, key: str) -> tuple[int, dict]:
    headers = {**who.headers, "Idempotency-Key": key}
    response = who.client.post(
        f"/api/gallery/auctions/{auction_id}/bids", json={"amount": amount}, headers=headers
    )
    return response.status_code, response.json()


def test_auction_two_bids_extension_and_settlement(world: GalleryWorld) -> None:
    chain, seller, buyer, bidder = world.gallery.chain, world.seller, world.buyer, world.bidder
    body = {"token_id": world.token_id, "reserve": 10_000, "start": 0, "end": world.now() + 3600}
    created = seller.client.post("/api/gallery/auctions", json=body, headers=seller.headers)
    assert created.status_code == 201, created.text
    auction = created.json()
    assert chain.owner(world.token_id) == chain.gallery.address  # escrowed
    assert world.gallery.token(world.token_id)["owner"] == seller.address  # still the seller's
    low_status, low = bid(buyer, auction["id"], 9_999, "bid-too-low-001")
    assert low_status == 422 and low["error"]["details"]["minimum"] == 10_000
    own_status, _ = bid(seller, auction["id"], 20_000, "bid-by-seller-1")
    assert own_status == 422
    start_buyer = world.won(buyer.address)
    status, first = bid(buyer, auction["id"], 10_000, "bid-first-0001")
    assert status == 200, first
    assert world.won(buyer.address) == start_buyer - 10_000
    assert first["auction"]["highest_bid"] == 10_000 and not first["auction"]["extended"]
    status, second = bid(bidder, auction["id"], 12_000, "bid-second-001")
    assert status == 200, second
    assert world.won(buyer.address) == start_buyer  # the outbid bidder was refunded at once
    assert second["auction"]["highest_bidder"] == bidder.address
    assert second["auction"]["min_next_bid"] == 12_600
    world.advance(3600 - 300)  # five minutes before the end: a bid now extends it
    status, third = bid(buyer, auction["id"], 13_000, "bid-third-0001")
    assert status == 200, third
    assert third["auction"]["extended"] and third["auction"]["end_time"] >= world.now() + 590
    early = buyer.client.post(
        f"/api/gallery/auctions/{auction['id']}/settle", headers=buyer.headers
    )
    assert early.status_code == 409, early.text
    world.advance(601)
    status, late = bid(bidder, auction["id"], 20_000, "bid-too-late-01")
    assert status == 409, late
    settled = bidder.client.post(
        f"/api/gallery/auctions/{auction['id']}/settle", headers=bidder.headers
    )
    assert settled.status_code == 200, settled.text
    view = settled.json()
    assert view["state"] == "settled" and view["escrow"] == 0
    sale = view["sale"]
    assert sale["kind"] == "auction" and sale["price"] == 13_000
    assert sale["seller_proceeds"] + sale["royalty"] + sale["fee"] == 13_000
    assert chain.owner(world.token_id) == buyer.address
    assert world.won(chain.gallery.address) == 0
    assert [b["state"] for b in view["bids"]] == ["confirmed"] * 3


def test_freeze_blocks_buy_and_bid_with_korean_and_english_messages(world: GalleryWorld) -> None:
    admin, seller, buyer = world.admin, world.seller, world.buyer
    listing = seller.client.post(
        "/api/gallery/listings",
        json={"token_id": world.token_id, "price": 1_000, "expiry": world.now() + 3600},
        headers=seller.headers,
    ).json()
    report = buyer.client.post(
        "/api/gallery/reports",
        json={"token_id": world.token_id, "kind": "copy", "text": "제 사진을 베꼈습니다"},
        headers=buyer.headers,
    )
    assert report.status_code == 201, report.text
    path = f"/api/gallery/tokens/{world.token_id}/freeze"
    denied = buyer.client.post(path, json={"reason_code": "copy"}, headers=buyer.headers)
    assert denied.status_code == 403
    frozen = admin.client.post(
        path, json={"reason_code": "copy", "note": "reported"}, headers=admin.headers
    )
    assert frozen.status_code == 200 and frozen.json()["frozen"] is True, frozen.text
    assert world.gallery.token(world.token_id)["frozen"] is True
    url = f"/api/gallery/listings/{listing['id']}/buy"
    ko = buyer.client.post(url, headers={**buyer.headers, "Idempotency-Key": "buy-frozen-ko1"})
    en = buyer.client.post(
        url + "?lang=en", headers={**buyer.headers, "Idempotency-Key": "buy-frozen-en1"}
    )
    assert ko.status_code == en.status_code == 409
    assert ko.json()["error"]["code"] == "token_frozen"
    assert ko.json()["error"]["message"] == "신고로 거래가 정지된 작품입니다"
    assert en.json()["error"]["message"] == "This work is frozen from sale after a report"
    auction = seller.client.post(
        "/api/gallery/auctions",
        json={"token_id": world.token_id, "reserve": 100, "start": 0, "end": world.now() + 900},
        headers=seller.headers,
    )
    assert auction.status_code == 409  # a frozen token cannot be auctioned either
    stranger = buyer.client.post(
        f"/api/gallery/tokens/{world.token_id}/appeal", json={"text": "x"}, headers=buyer.headers
    )
    assert stranger.status_code == 403
    appeal = seller.client.post(
        f"/api/gallery/tokens/{world.token_id}/appeal",
        json={"text": "제가 찍은 사진입니다"},
        headers=seller.headers,
    )
    assert appeal.status_code == 201 and appeal.json()["tx_hash"], appeal.text
    assert buyer.client.get("/api/gallery/appeals").status_code == 403
    listed = admin.client.get("/api/gallery/appeals")
    assert listed.status_code == 200 and listed.json()[0]["text"] == "제가 찍은 사진입니다"
    unfrozen = admin.client.post(
        f"/api/gallery/tokens/{world.token_id}/unfreeze", json={}, headers=admin.headers
    )
    assert unfrozen.status_code == 200 and unfrozen.json()["frozen"] is False
    again = admin.client.post(
        f"/api/gallery/tokens/{world.token_id}/unfreeze", json={}, headers=admin.headers
    )
    assert again.status_code == 409
    bought = buyer.client.post(url, headers={**buyer.headers, "Idempotency-Key": "buy-unfrozen-1"})
    assert bought.status_code == 200, bought.text


def test_frozen_token_refuses_bids(world: GalleryWorld) -> None:
    seller, admin = world.seller, world.admin
    body = {"token_id": world.token_id, "reserve": 100, "start": 0, "end": world.now() + 3600}
    auction = seller.client.post("/api/gallery/auctions", json=body, headers=seller.headers).json()
    frozen = admin.client.post(
        f"/api/gallery/tokens/{world.token_id}/freeze",
        json={"reason_code": "theft"},
        headers=admin.headers,
    )
    assert frozen.status_code == 200, frozen.text
    status, answer = bid(world.buyer, auction["id"], 100, "bid-frozen-0001")
    assert status == 409 and answer["error"]["code"] == "token_frozen"
    assert world.gallery.auction(auction["id"])["bids"] == []


def test_background_pass_settles_an_auction_without_bids(world: GalleryWorld) -> None:
    seller, chain = world.seller, world.gallery.chain
    body = {"token_id": world.token_id, "reserve": 500, "start": 0, "end": world.now() + 120}
    auction = seller.client.post("/api/gallery/auctions", json=body, headers=seller.headers).json()
    assert world.gallery.settle_ended() == 0  # not ended yet
    world.advance(121)
    assert world.gallery.settle_ended() == 1
    view = world.gallery.auction(auction["id"])
    assert view["state"] == "settled" and view["sale"] is None and view["escrow"] == 0
    assert chain.owner(world.token_id) == seller.address
    assert world.gallery.token(world.token_id)["owner"] == seller.address


def test_the_seller_keeps_owning_an_escrowed_photo_and_may_only_hide_it(
    world: GalleryWorld,
) -> None:
    seller, buyer, chain = world.seller, world.buyer, world.gallery.chain
    body = {"token_id": world.token_id, "reserve": 500, "start": 0, "end": world.now() + 120}
    auction = seller.client.post("/api/gallery/auctions", json=body, headers=seller.headers)
    assert auction.status_code == 201, auction.text
    assert chain.owner(world.token_id) == chain.gallery.address
    image = f"/api/studio/photos/{world.photo_id}/image?size=320"
    assert buyer.client.get(image).status_code == 200  # published while auctioned
    world.studio.sync_token(world.photo_id)  # the gateway's chain read: the seller still owns it
    assert world.studio.photo(seller.user_id, world.photo_id)["owner_address"] == seller.address
    status, hidden = world.studio.publish(seller.user_id, world.photo_id, False)
    assert status == 200 and hidden["published"] is False
    assert buyer.client.get(image).status_code == 404
    assert seller.client.get(image).status_code == 200  # private content stays the seller's
    url = f"/api/studio/photos/{world.photo_id}/publish"
    again = seller.client.post(url, json={"published": True}, headers=seller.headers)
    assert again.status_code == 409, again.text
    assert "경매" in again.json()["error"]["message"]
    with pytest.raises(Conflict) as refused:
        world.studio.publish(seller.user_id, world.photo_id, True)
    assert "auction" in refused.value.message_en
    world.advance(121)
    assert world.gallery.settle_ended() == 1  # no bids: back to the seller, still private
    status, shown = world.studio.publish(seller.user_id, world.photo_id, True)
    assert status == 200 and shown["published"] is True
