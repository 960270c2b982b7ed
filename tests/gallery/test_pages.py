"""Gallery pages: who sees which action form, private works stay hidden, browse, search,
exhibitions and profiles (server-rendered HTML over real anvil and a real database)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from busanchain.web.app import create_app
from tests.accounts.conftest import login
from tests.gallery.conftest import GalleryWorld
from tests.studio.studio_support import approved_studio, upload_one

ACTION_FORMS = ("list-form", "auction-form", "buy-box", "offer-form", "bid-form", "moderate-form")


def _page(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:300])
    return response.text


def _forms(html: str) -> set[str]:
    """The action forms a page offers."""
    return {name for name in ACTION_FORMS if f'data-testid="{name}"' in html}


def _list(world: GalleryWorld, price: int) -> int:
    answer = world.seller.client.post(
        "/api/gallery/listings",
        json={"token_id": world.token_id, "price": price, "expiry": world.now() + 3600},
        headers=world.seller.headers,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_action_forms_follow_the_role(world: GalleryWorld) -> None:
    path = f"/gallery/tokens/{world.token_id}"
    owner = _page(world.seller.client, path)
    assert _forms(owner) == {"list-form", "auction-form"}
    assert 'data-role="owner"' in owner and 'data-testid="report-form"' in owner
    assert _forms(_page(world.buyer.client, path)) == {"offer-form"}  # nothing listed yet
    with TestClient(create_app(world.context)) as visitor:
        anonymous = _page(visitor, path)
    assert _forms(anonymous) == set() and 'data-testid="actions"' not in anonymous
    assert 'data-testid="report-form"' not in anonymous
    admin = _page(world.admin.client, path)
    assert "moderate-form" in _forms(admin) and 'data-testid="freeze-submit"' in admin

    order_id = _list(world, 50_000)
    buyer = _page(world.buyer.client, path)
    assert _forms(buyer) == {"buy-box", "offer-form"}
    assert f'data-order="{order_id}"' in buyer
    split = world.gallery.quote(world.token_id, 50_000)
    assert split["royalty"] > 0 and split["fee"] > 0
    assert split["seller_proceeds"] + split["royalty"] + split["fee"] == 50_000
    for name in ("seller", "royalty", "fee"):
        value = split["seller_proceeds"] if name == "seller" else split[name]
        assert f'data-testid="split-{name}">{value:,}<' in buyer
    key = re.compile(r'data-key="([0-9a-f]{32})"')
    keys = key.findall(buyer)
    assert keys and keys != key.findall(_page(world.buyer.client, path))  # fresh per render
    owner = _page(world.seller.client, path)
    assert _forms(owner) == set() and 'data-testid="cancel-listing"' in owner  # listed: cancel


def test_auction_page_for_the_seller_and_privacy_of_the_escrow(world: GalleryWorld) -> None:
    answer = world.seller.client.post(
        "/api/gallery/auctions",
        json={"token_id": world.token_id, "reserve": 1000, "start": 0, "end": world.now() + 7200},
        headers=world.seller.headers,
    )
    assert answer.status_code == 201, answer.text
    auction_id = int(answer.json()["id"])
    path = f"/gallery/tokens/{world.token_id}"
    owner = _page(world.seller.client, path)  # escrowed: the seller is still the holder
    assert 'data-testid="countdown"' in owner and "10분" in owner  # anti-sniping note
    assert _forms(owner) == set() and 'data-role="owner"' in owner
    # The Gallery holds PhotoNFT's ESCROW_ROLE: the escrow transfer keeps the work published,
    # so everyone sees the auction and may bid from the page.
    assert world.gallery.chain.is_published(world.token_id)
    assert _forms(_page(world.bidder.client, path)) == {"bid-form"}
    with TestClient(create_app(world.context)) as visitor:
        assert f'data-token="{world.token_id}"' in _page(visitor, "/gallery")
        assert 'data-testid="countdown"' in _page(visitor, path)
    headers = {**world.bidder.headers, "Idempotency-Key": "pages-escrow-bid-1"}
    bid = world.bidder.client.post(
        f"/api/gallery/auctions/{auction_id}/bids", json={"amount": 1000}, headers=headers
    )
    assert bid.status_code == 200, bid.text
    world.advance(7201)
    settled = world.bidder.client.post(
        f"/api/gallery/auctions/{auction_id}/settle", headers=world.bidder.headers
    )
    assert settled.status_code == 200, settled.text
    # Settled to the winner, a new owner: private again until the winner publishes it.
    assert not world.gallery.chain.is_published(world.token_id)
    _page(world.seller.client, path, 404)
    _page(world.buyer.client, path, 404)
    assert 'data-testid="private-banner"' in _page(world.bidder.client, path)
    assert f'data-token="{world.token_id}"' not in _page(world.buyer.client, "/gallery")


def test_private_work_is_404_for_everyone_but_its_owner(world: GalleryWorld) -> None:
    token_id, photo_id = world.claimed_photo(world.seller, 2, publish=False)
    path = f"/gallery/tokens/{token_id}"
    with TestClient(create_app(world.context)) as visitor:
        hidden = [_page(visitor, path, 404)]
    hidden += [_page(a.client, path, 404) for a in (world.buyer, world.admin)]
    for html in hidden:
        assert f"/api/studio/photos/{photo_id}/" not in html and "work-image" not in html
    owner = _page(world.seller.client, path)
    assert 'data-testid="private-banner"' in owner
    assert f"/api/studio/photos/{photo_id}/image?size=1280" in owner
    browse = _page(world.buyer.client, "/gallery")
    assert f'data-token="{token_id}"' not in browse and f'data-token="{world.token_id}"' in browse


def test_frozen_work_shows_the_reason_appeal_and_unfreeze(world: GalleryWorld) -> None:
    frozen = world.admin.client.post(
        f"/api/gallery/tokens/{world.token_id}/freeze",
        json={"reason_code": "theft", "note": "신고 접수"},
        headers=world.admin.headers,
    )
    assert frozen.status_code == 200, frozen.text
    path = f"/gallery/tokens/{world.token_id}"
    owner = _page(world.seller.client, path)
    assert 'data-reason="theft"' in owner and "도난" in owner
    assert 'data-testid="appeal-form"' in owner and _forms(owner) == set()
    assert "Stolen" in _page(world.seller.client, path + "?lang=en")
    assert _forms(_page(world.buyer.client, path)) == set()  # no buying a frozen work
    assert 'data-testid="unfreeze-submit"' in _page(world.admin.client, path)


def test_browse_search_profiles_and_exhibitions(world: GalleryWorld) -> None:
    with TestClient(create_app(world.context)) as visitor:
        browse = _page(visitor, "/gallery")
        assert f'data-token="{world.token_id}"' in browse and 'data-testid="more"' not in browse
        studio = world.studio_world.studio_id
        assert f'<option value="{studio}"' in browse  # the studio filter lists active studios
        assert f'data-token="{world.token_id}"' in _page(visitor, f"/gallery?studio={studio}")
        assert 'data-testid="no-works"' in _page(visitor, "/gallery?q=nobody-has-this-name")
        assert 'data-testid="no-works"' in _page(visitor, "/gallery?from=2999-01-01")
        assert 'data-testid="no-works"' in _page(visitor, f"/gallery?page={world.token_id}")
        assert visitor.get("/gallery?from=yesterday").status_code == 422
        profile = _page(visitor, f"/gallery/profiles/{world.seller.address}")
        owned = profile.split('data-testid="owned"', 1)[1]
        assert f'data-token="{world.token_id}"' in owned
        creator = _page(visitor, f"/gallery/profiles/{world.royalty_receiver}")
        assert f'data-token="{world.token_id}"' in creator.split('data-testid="created"')[1]
        assert visitor.get("/gallery/profiles/0x1234").status_code == 422
        new_page = visitor.get("/gallery/exhibitions/new", follow_redirects=False)
        assert new_page.status_code == 303 and new_page.headers["location"] == "/login"
    assert world.buyer.client.get("/gallery/exhibitions/new").status_code == 403
    assert 'data-testid="pick-work"' in _page(world.admin.client, "/gallery/exhibitions/new")
    made = world.admin.client.post(
        "/api/gallery/exhibitions",
        json={"title_ko": "광안리의 여름", "title_en": "Summer", "token_ids": [world.token_id]},
        headers=world.admin.headers,
    )
    assert made.status_code == 201, made.text
    show = _page(world.buyer.client, f"/gallery/exhibitions/{made.json()['id']}")
    assert "광안리의 여름" in show and f'data-token="{world.token_id}"' in show
    browse = _page(world.buyer.client, "/gallery")
    assert 'data-testid="exhibition-link"' in browse and "광안리의 여름" in browse
    assert 'data-testid="exhibitions"' not in _page(world.buyer.client, "/gallery?page=0")
    _page(world.buyer.client, "/gallery/exhibitions/999999", 404)


def test_a_studio_curates_only_its_own_published_works(world: GalleryWorld) -> None:
    other = approved_studio(world.studio, "oth", "987654321", world.admin.user_id)
    foreign = upload_one(world.studio, other, 9)
    _, issued = world.studio.issue(other.owner_id, int(str(foreign["id"])), "foreign-issue")
    status, claimed = world.studio.claim(
        world.buyer.user_id, issued["claim_code"], None, "foreign-claim"
    )
    assert status == 200, claimed
    published, _ = world.studio.publish(world.buyer.user_id, int(str(foreign["id"])), True)
    assert published == 200
    with TestClient(create_app(world.context)) as studio:
        login(studio, "gal-owner")
        page = _page(studio, "/gallery/exhibitions/new")
    picks = set(re.findall(r'name="token_ids" value="(\d+)"', page))
    assert picks == {str(world.token_id)}  # not the other studio's work
    admin = _page(world.admin.client, "/gallery/exhibitions/new")
    assert set(re.findall(r'name="token_ids" value="(\d+)"', admin)) == {
        str(world.token_id),
        str(claimed["token_id"]),
    }
