"""Who may call which gallery route, bad input (4xx, never 500), browsing and exhibitions."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from busanchain.domain.roles import Role
from busanchain.web.app import create_app
from tests.accounts.conftest import login
from tests.gallery.conftest import GalleryWorld
from tests.token.conftest import actor

WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/gallery/listings", {"token_id": 1, "price": 10, "expiry": 2**31}),
    ("DELETE", "/api/gallery/listings/1", None),
    ("POST", "/api/gallery/listings/1/buy", None),
    ("POST", "/api/gallery/me/cancel-all", None),
    ("POST", "/api/gallery/offers", {"token_id": 1, "price": 10, "expiry": 2**31}),
    ("POST", "/api/gallery/offers/1/accept", None),
    ("POST", "/api/gallery/auctions", {"token_id": 1, "reserve": 1, "start": 0, "end": 2**31}),
    ("POST", "/api/gallery/auctions/1/bids", {"amount": 5}),
    ("POST", "/api/gallery/auctions/1/settle", None),
    ("POST", "/api/gallery/reports", {"token_id": 1, "kind": "copy", "text": "x"}),
    ("POST", "/api/gallery/tokens/1/freeze", {"reason_code": "copy"}),
    ("POST", "/api/gallery/tokens/1/unfreeze", {}),
    ("POST", "/api/gallery/tokens/1/appeal", {"text": "x"}),
    ("POST", "/api/gallery/exhibitions", {"title_ko": "전시", "token_ids": [1]}),
]


def test_every_write_needs_a_login(world: GalleryWorld) -> None:
    with TestClient(create_app(world.context)) as visitor:
        for method, path, body in WRITES:
            response = visitor.request(method, path, json=body)
            assert response.status_code in (401, 403), (method, path, response.status_code)
        assert visitor.get("/api/gallery/appeals").status_code == 401


def test_other_users_get_403_or_404_and_nothing_changes(world: GalleryWorld) -> None:
    seller, buyer, chain = world.seller, world.buyer, world.gallery.chain
    token = world.token_id
    stranger_listing = buyer.client.post(
        "/api/gallery/listings",
        json={"token_id": token, "price": 10, "expiry": world.now() + 600},
        headers=buyer.headers,
    )
    assert stranger_listing.status_code == 403
    stranger_auction = buyer.client.post(
        "/api/gallery/auctions",
        json={"token_id": token, "reserve": 1, "start": 0, "end": world.now() + 600},
        headers=buyer.headers,
    )
    assert stranger_auction.status_code == 403
    listing = seller.client.post(
        "/api/gallery/listings",
        json={"token_id": token, "price": 10, "expiry": world.now() + 600},
        headers=seller.headers,
    ).json()
    assert (
        buyer.client.delete(
            f"/api/gallery/listings/{listing['id']}", headers=buyer.headers
        ).status_code
        == 404
    )
    offer = buyer.client.post(
        "/api/gallery/offers",
        json={"token_id": token, "price": 10, "expiry": world.now() + 600},
        headers=buyer.headers,
    ).json()
    assert (
        seller.client.delete(
            f"/api/gallery/offers/{offer['id']}", headers=seller.headers
        ).status_code
        == 404
    )
    accept = world.bidder.client.post(
        f"/api/gallery/offers/{offer['id']}/accept",
        headers={**world.bidder.headers, "Idempotency-Key": "accept-not-mine"},
    )
    assert accept.status_code == 403
    citizen_exhibition = buyer.client.post(
        "/api/gallery/exhibitions",
        json={"title_ko": "전시", "token_ids": [token]},
        headers=buyer.headers,
    )
    assert citizen_exhibition.status_code == 403
    assert (
        buyer.client.post(
            f"/api/gallery/tokens/{token}/freeze",
            json={"reason_code": "copy"},
            headers=buyer.headers,
        ).status_code
        == 403
    )
    assert chain.owner(token) == seller.address and not chain.is_frozen(token)
    assert world.gallery.order(listing["id"])["state"] == "open"


BAD: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
    ("POST", "/api/gallery/listings", {"token_id": 1, "price": 0, "expiry": 2**31}, {}),
    ("POST", "/api/gallery/listings", {"token_id": 1, "price": -5, "expiry": 2**31}, {}),
    ("POST", "/api/gallery/listings", {"token_id": 1, "price": 10**30, "expiry": 2**31}, {}),
    ("POST", "/api/gallery/listings", {"token_id": "x", "price": 1, "expiry": 2**31}, {}),
    ("POST", "/api/gallery/listings", {"token_id": 1, "price": 1, "expiry": 1}, {}),
    ("POST", "/api/gallery/listings", {"token_id": 999, "price": 1, "expiry": 2**35}, {}),
    ("POST", "/api/gallery/listings", {"token_id": 1, "price": 1, "expiry": 2**35, "x": 1}, {}),
    ("POST", "/api/gallery/listings", None, {}),
    ("POST", "/api/gallery/listings/abc/buy", None, {"Idempotency-Key": "bad-path-0001"}),
    ("POST", "/api/gallery/listings/999999/buy", None, {"Idempotency-Key": "no-such-0001"}),
    ("POST", "/api/gallery/listings/1/buy", None, {"Idempotency-Key": "short"}),
    ("POST", "/api/gallery/listings/1/buy", None, {}),
    ("POST", "/api/gallery/listings/99999999999999999999999/buy", None, {}),
    ("POST", "/api/gallery/auctions/777/bids", {"amount": 0}, {"Idempotency-Key": "bid-zero-001"}),
    ("POST", "/api/gallery/auctions/777/bids", {"amount": 5}, {"Idempotency-Key": "bid-none-001"}),
    ("POST", "/api/gallery/auctions/777/settle", None, {}),
    ("POST", "/api/gallery/reports", {"token_id": 1, "kind": "spam", "text": "x"}, {}),
    ("POST", "/api/gallery/reports", {"token_id": 1, "kind": "copy", "text": "x" * 1001}, {}),
    ("POST", "/api/gallery/reports", {"token_id": 1, "kind": "copy", "text": "a\u0000b"}, {}),
    ("POST", "/api/gallery/reports", {"token_id": 424242, "kind": "copy", "text": "x"}, {}),
    ("POST", "/api/gallery/tokens/1/appeal", {"text": ""}, {}),
    ("POST", "/api/gallery/tokens/1/appeal", {"text": "not frozen"}, {}),
    ("POST", "/api/gallery/offers", {"token_id": 1, "price": 10**12, "expiry": 2**35}, {}),
    ("GET", "/api/gallery/tokens?page=-1", None, {}),
    ("GET", "/api/gallery/tokens?from=yesterday", None, {}),
    ("GET", "/api/gallery/tokens/999999", None, {}),
    ("GET", "/api/gallery/profiles/not-an-address", None, {}),
    ("GET", "/api/gallery/exhibitions/999", None, {}),
    ("GET", "/api/gallery/auctions/999", None, {}),
    # ids past the INTEGER row keys (PostgreSQL refused these with a 500 before)
    ("GET", "/api/gallery/listings/2147483648", None, {}),
    ("GET", "/api/gallery/auctions/5129612375797", None, {}),
    ("GET", "/api/gallery/exhibitions/2147483648", None, {}),
    ("POST", "/api/gallery/exhibitions", {"title_ko": "전시", "token_ids": [2**64]}, {}),
]


def test_bad_input_gets_a_clear_4xx_never_a_500(world: GalleryWorld) -> None:
    seller = world.seller
    for method, path, body, extra in BAD:
        response = seller.client.request(
            method, path, json=body, headers={**seller.headers, **extra}
        )
        assert 400 <= response.status_code < 500, (method, path, body, response.text)
        error = response.json()["error"]
        assert error["code"] and error["message"], (path, error)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_errors_come_in_both_languages(world: GalleryWorld, lang: str) -> None:
    response = world.seller.client.post(
        f"/api/gallery/listings?lang={lang}",
        json={"token_id": world.token_id, "price": 1, "expiry": 5},
        headers=world.seller.headers,
    )
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert ("만료" in message) if lang == "ko" else ("expiry" in message)


def test_browse_cards_profiles_and_exhibitions(world: GalleryWorld) -> None:
    seller, admin = world.seller, world.admin
    hidden_token, _ = world.claimed_photo(seller, 2, publish=False)
    listing = seller.client.post(
        "/api/gallery/listings",
        json={"token_id": world.token_id, "price": 4_321, "expiry": world.now() + 600},
        headers=seller.headers,
    ).json()
    with TestClient(create_app(world.context)) as visitor:
        page = visitor.get("/api/gallery/tokens").json()
        tokens = [card["token_id"] for card in page["items"]]
        assert world.token_id in tokens and hidden_token not in tokens
        card = next(c for c in page["items"] if c["token_id"] == world.token_id)
        assert card["listing"]["price"] == 4_321 and card["listing"]["id"] == listing["id"]
        assert card["studio"]["id"] == world.studio_world.studio_id
        by_studio = visitor.get(f"/api/gallery/tokens?studio={world.studio_world.studio_id}")
        assert [c["token_id"] for c in by_studio.json()["items"]] == [world.token_id]
        assert visitor.get("/api/gallery/tokens?studio=9999").json()["items"] == []
        assert visitor.get("/api/gallery/tokens?q=gal").json()["items"]
        assert visitor.get("/api/gallery/tokens?q=nomatch").json()["items"] == []
        paged = visitor.get(f"/api/gallery/tokens?page={world.token_id}").json()
        assert world.token_id not in [c["token_id"] for c in paged["items"]]
        hidden = visitor.get(f"/api/gallery/tokens/{hidden_token}").json()
        assert hidden["published"] is False and "cid" not in hidden and hidden["frozen"] is False
        shown = visitor.get(f"/api/gallery/tokens/{world.token_id}").json()
        assert shown["cid"] and shown["listing"]["price"] == 4_321
        profile = visitor.get(f"/api/gallery/profiles/{seller.address.lower()}").json()
        assert [c["token_id"] for c in profile["owned"]] == [world.token_id]
        studio_address = world.studio.my_studio(world.studio_world.owner_id)["signing_address"]
        created = visitor.get(f"/api/gallery/profiles/{studio_address}").json()["created"]
        assert [c["token_id"] for c in created] == [world.token_id]
    refused = admin.client.post(
        "/api/gallery/exhibitions",
        json={"title_ko": "봄 전시", "token_ids": [world.token_id, hidden_token]},
        headers=admin.headers,
    )
    assert refused.status_code == 422  # only published works
    made = admin.client.post(
        "/api/gallery/exhibitions",
        json={"title_ko": "봄 전시", "title_en": "Spring", "token_ids": [world.token_id]},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    exhibition = made.json()
    assert [w["token_id"] for w in exhibition["works"]] == [world.token_id]
    assert world.seller.client.get("/api/gallery/exhibitions").json()[0]["id"] == exhibition["id"]
    with TestClient(create_app(world.context)) as studio_client:
        csrf = login(studio_client, "gal-owner")["csrf_token"]
        own = studio_client.post(
            "/api/gallery/exhibitions",
            json={"title_ko": "우리 사진관", "token_ids": [world.token_id]},
            headers={"X-CSRF-Token": csrf},
        )
        assert own.status_code == 201 and own.json()["studio_id"] == world.studio_world.studio_id
    studio_owner = actor(world.context, "gal-owner-login", Role.STUDIO)
    try:
        other = studio_owner.client.post(
            "/api/gallery/exhibitions",
            json={"title_ko": "남의 작품", "token_ids": [world.token_id]},
            headers=studio_owner.headers,
        )
        assert other.status_code == 403  # no approved studio of their own
    finally:
        studio_owner.client.close()
