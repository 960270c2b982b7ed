"""NFT provenance in the reorg-safe index: real anvil, real database, platform-deployed contracts.

A photo is claimed from a studio voucher, listed and bought through the Gallery, then given
away; another goes through an auction. The index must show each step with the exact price,
royalty and fee the contracts paid, forget orphaned events on a reorg, and fill the same rows
when the contracts become known only after their blocks were indexed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext
from sqlalchemy import select

from busanchain.chain.node import AnvilSupervisor
from busanchain.explorer.indexer import ChainIndexer
from busanchain.explorer.service import ExplorerService, contract_book_from_registry
from busanchain.explorer.tables import NftEvent
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.conftest import module_context, start_anvil
from tests.explorer.nft_market import NftMarket, deploy_market, split_of
from tests.explorer.test_indexer import dump
from tests.web.support import VIEWPORTS, Viewport, serve
from tests.web.test_pages import check_page, slug

pytestmark = pytest.mark.chain

PRICE = 123_457  # not a multiple of 10,000: fee and royalty round down
RESALE = 200_001
AUCTION_WIN = 20_000


def kinds(context: PlatformContext, token_id: int) -> list[str]:
    """The kinds of a token's provenance, oldest first."""
    return [e.kind for e in ExplorerService(context).provenance(str(token_id)).events]


def nft_rows(context: PlatformContext) -> list[tuple[Any, ...]]:
    """Every column of every stored NFT event, in chain order (tx hash first)."""
    columns = [NftEvent.tx_hash, *NftEvent.__table__.columns]
    with context.unit_of_work() as session:
        stmt = select(*columns).order_by(NftEvent.block_number, NftEvent.log_index)
        return [tuple(row) for row in session.execute(stmt)]


# ---- a market with history, indexed once ------------------------------------------------------


@dataclass
class World:
    """Token 1: claimed, sold, given away. Token 2: auctioned (two bids) and settled."""

    context: PlatformContext
    client: TestClient
    market: NftMarket
    token_id: int
    claim_tx: str
    sale_tx: str
    gift_tx: str
    auctioned: int
    auction_id: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("explorer-nft")
    node = start_anvil(tmp / "anvil", anvil_binary)
    try:
        with module_context(tmp, node.config.rpc_url) as context:
            yield from _world(context, node.config.rpc_url)
    finally:
        node.stop(snapshot=False)


def _world(context: PlatformContext, rpc_url: str) -> Iterator[World]:
    m = deploy_market(context, rpc_url)
    seller, buyer = m.person("seller"), m.person("buyer", won=1_000_000)
    carol, dave = m.person("carol"), m.person("dave", won=1_000_000)
    token_id, claim_tx = m.claim(seller.address)
    sale_tx = m.buy(seller, buyer, token_id, PRICE)
    gift_tx = m.give(buyer, carol.address, token_id)
    auctioned, _ = m.claim(carol.address)
    auction_id = m.auction(carol, auctioned, reserve=10_000)
    m.send(m.gallery.functions.bid(auction_id, 10_000), buyer)
    m.send(m.gallery.functions.bid(auction_id, AUCTION_WIN), dave)
    m.advance(3_601)
    m.send(m.gallery.functions.settleAuction(auction_id), dave)
    ChainIndexer(context, contract_book_from_registry(context)).sync()
    with TestClient(create_app(context)) as client:
        yield World(context, client, m, token_id, claim_tx, sale_tx, gift_tx, auctioned, auction_id)


@pytest.fixture(autouse=True)
def _fresh_language(world: World) -> None:
    world.client.cookies.clear()


def test_provenance_shows_claim_mint_sale_and_transfers_with_the_exact_split(world: World) -> None:
    m, people = world.market, world.market.people
    seller, buyer, carol = people["seller"], people["buyer"], people["carol"]
    split = split_of(PRICE)
    assert m.won(seller.address) == split.proceeds  # what the chain paid, for comparison

    body = world.client.get(f"/api/explorer/nfts/{world.token_id}/provenance").json()

    assert body["nft_contract"] == m.nft.address and body["total"] == 5
    steps = [(e["kind"], e["from_address"], e["to_address"]) for e in body["events"]]
    assert steps == [
        ("claim", m.studio.address, seller.address),
        ("mint", None, seller.address),
        ("sale", seller.address, buyer.address),
        ("transfer", seller.address, buyer.address),
        ("transfer", buyer.address, carol.address),
    ]
    claim, mint, sale, moved, gift = body["events"]
    assert claim["tx_hash"] == mint["tx_hash"] == world.claim_tx
    assert sale["tx_hash"] == moved["tx_hash"] == world.sale_tx
    assert gift["tx_hash"] == world.gift_tx
    assert (sale["price"], sale["royalty"], sale["fee"]) == (
        str(PRICE),
        str(split.royalty),
        str(split.fee),
    )
    assert split.royalty == 6_172 and split.fee == 3_086
    assert sale["royalty_receiver"] == m.photographer == m.w3.to_checksum_address(m.photographer)
    assert m.won(m.photographer) == split.royalty + split_of(AUCTION_WIN).royalty  # both sales
    assert sale["sale_kind"] == "listing" and sale["ref"] == m.order_hash_of(world.sale_tx)
    assert sale["contract"] == m.gallery.address and sale["contract_name"] == "Gallery"
    block_time = datetime.fromtimestamp(m.w3.eth.get_block(sale["block_number"])["timestamp"], UTC)
    assert datetime.fromisoformat(sale["time"]) == block_time
    for event in (moved, gift, mint):
        assert event["price"] is None and event["royalty"] is None


def test_summary_gives_owner_sales_and_royalties_from_the_index(world: World) -> None:
    m, carol = world.market, world.market.people["carol"]
    split = split_of(PRICE)

    body = world.client.get(f"/api/explorer/nfts/{world.token_id}").json()

    assert m.nft.functions.ownerOf(world.token_id).call() == carol.address
    assert body["owner"] == carol.address and body["minted"] is True
    assert body["studio"] == m.studio.address
    assert (body["sales"], body["volume"]) == (1, str(PRICE))
    assert (body["royalties_paid"], body["fees_paid"]) == (str(split.royalty), str(split.fee))
    assert body["last_sale_price"] == str(PRICE) and body["in_auction"] is False
    assert body["published"] is False and body["frozen"] is False
    assert body["provenance_url"] == f"/api/explorer/nfts/{world.token_id}/provenance"


def test_auction_bids_and_settlement_are_attributed_to_the_token(world: World) -> None:
    m, people = world.market, world.market.people
    carol, buyer, dave = people["carol"], people["buyer"], people["dave"]
    split = split_of(20_000)

    events = ExplorerService(world.context).provenance(str(world.auctioned)).events

    steps = [(e.kind, e.from_address, e.to_address, e.price) for e in events]
    assert steps == [
        ("claim", m.studio.address, carol.address, None),
        ("mint", None, carol.address, None),
        ("auction_created", carol.address, None, "10000"),
        ("transfer", carol.address, m.gallery.address, None),
        ("bid", buyer.address, None, "10000"),
        ("bid", dave.address, None, "20000"),
        ("sale", carol.address, dave.address, "20000"),
        ("auction_settled", None, dave.address, "20000"),
        ("transfer", m.gallery.address, dave.address, None),
    ]
    sale = events[6]
    assert (sale.royalty, sale.fee) == (str(split.royalty), str(split.fee))
    assert sale.sale_kind == "auction"
    assert {e.auction_id for e in events if e.auction_id} == {str(world.auction_id)}
    summary = ExplorerService(world.context).nft(str(world.auctioned))
    assert summary.owner == dave.address and summary.sales == 1
    assert m.won(carol.address) == split.proceeds


def test_nft_page_shows_the_provenance_in_korean_then_english(world: World) -> None:
    page = world.client.get(f"/explorer/nft/{world.token_id}")
    assert page.status_code == 200
    assert "소유 이력" in page.text and "판매" in page.text and "발행" in page.text
    assert f'data-testid="token-id">#{world.token_id}<' in page.text
    assert "123,457" in page.text and "6,172" in page.text and "3,086" in page.text
    assert page.text.count('<tr data-kind="') == 5 and "data-label=" in page.text
    english = world.client.get(f"/explorer/nft/{world.token_id}?lang=en")
    assert "Provenance" in english.text and "소유 이력" not in english.text


def test_address_page_lists_the_nft_events_of_the_address(world: World) -> None:
    carol = world.market.people["carol"].address
    page = world.client.get(f"/explorer/address/{carol}")
    assert page.status_code == 200
    assert "사진 NFT 기록" in page.text
    assert f'href="/explorer/nft/{world.token_id}"' in page.text
    assert f'href="/explorer/nft/{world.auctioned}"' in page.text
    api = world.client.get(f"/api/explorer/addresses/{carol}").json()
    assert api["nft_event_total"] == len(api["nft_events"]) == 6
    stranger = world.client.get("/api/explorer/addresses/0x" + "12" * 20).json()
    assert stranger["nft_event_total"] == 0 and stranger["nft_events"] == []


@pytest.mark.parametrize(
    ("token_id", "status", "korean"),
    [
        ("abc", 422, "토큰 번호는"),
        ("-1", 422, "토큰 번호는"),
        ("1.5", 422, "토큰 번호는"),
        (str(2**256), 422, "토큰 번호는"),
        ("9" * 79, 422, "토큰 번호는"),
        ("0", 404, "색인되어 있지 않습니다"),
        ("999", 404, "색인되어 있지 않습니다"),
    ],
)
def test_bad_token_ids_get_a_clear_4xx(
    world: World, token_id: str, status: int, korean: str
) -> None:
    for path in (f"/api/explorer/nfts/{token_id}", f"/api/explorer/nfts/{token_id}/provenance"):
        world.client.cookies.clear()  # `?lang=en` below is remembered in a cookie
        answer = world.client.get(path)
        assert answer.status_code == status, path
        assert korean in answer.json()["error"]["message"]
        english = world.client.get(path + "?lang=en").json()["error"]["message"]
        assert english.isascii() and english
    world.client.cookies.clear()
    page = world.client.get(f"/explorer/nft/{token_id}")
    assert page.status_code == status and korean in page.text


def test_paging_and_leading_zeros(world: World) -> None:
    client = world.client
    page = client.get(f"/api/explorer/nfts/00{world.token_id}/provenance?limit=2&offset=1").json()
    assert page["token_id"] == str(world.token_id) and page["total"] == 5
    assert [e["kind"] for e in page["events"]] == ["mint", "sale"]
    base = f"/api/explorer/nfts/{world.token_id}/provenance"
    assert client.get(base + "?limit=0").status_code == 422
    assert client.get(base + "?limit=1001").status_code == 422


# ---- reorgs and late contracts, each on its own node --------------------------------------------


def test_a_reorg_removes_orphaned_nft_events_and_indexes_the_new_ones(
    own_anvil: AnvilSupervisor, make_context: Callable[[str], PlatformContext]
) -> None:
    rpc = own_anvil.config.rpc_url
    context = make_context(rpc)
    m = deploy_market(context, rpc)
    seller, buyer, other = m.person("seller"), m.person("buyer", 500_000), m.person("o", 500_000)
    token_id, _ = m.claim(seller.address)
    indexer = ChainIndexer(context, contract_book_from_registry(context))
    indexer.sync()
    snapshot = m.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    orphaned_sale = m.buy(seller, buyer, token_id, PRICE)
    orphaned_gift = m.give(buyer, other.address, token_id)
    indexer.sync()
    assert kinds(context, token_id) == ["claim", "mint", "sale", "transfer", "transfer"]

    assert m.w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    new_sale = m.buy(seller, other, token_id, RESALE)
    m.w3.provider.make_request("anvil_mine", [2])  # type: ignore[arg-type]
    report = indexer.sync()

    assert report.reorgs == 1
    hashes = {row[0] for row in nft_rows(context)}
    assert orphaned_sale not in hashes and orphaned_gift not in hashes and new_sale in hashes
    events = ExplorerService(context).provenance(str(token_id)).events
    assert [e.kind for e in events] == ["claim", "mint", "sale", "transfer"]
    split = split_of(RESALE)
    assert (events[2].to_address, events[2].price) == (other.address, str(RESALE))
    assert (events[2].royalty, events[2].fee) == (str(split.royalty), str(split.fee))
    summary = ExplorerService(context).nft(str(token_id))
    assert summary.owner == other.address and summary.royalties_paid == str(split.royalty)
    fresh = make_context(rpc)
    ChainIndexer(fresh, contract_book_from_registry(context)).sync()
    assert dump(context) == dump(fresh) and nft_rows(context) == nft_rows(fresh)


def test_contracts_learned_after_their_blocks_fill_the_nft_events(
    own_anvil: AnvilSupervisor, make_context: Callable[[str], PlatformContext]
) -> None:
    rpc = own_anvil.config.rpc_url
    context = make_context(rpc)
    m = deploy_market(context, rpc)
    seller, buyer = m.person("seller"), m.person("buyer", 500_000)
    token_id, _ = m.claim(seller.address)
    auction_id = m.auction(seller, token_id, reserve=5_000)
    m.send(m.gallery.functions.bid(auction_id, 7_000), buyer)
    indexer = ChainIndexer(context)  # knows no contract yet
    indexer.sync()
    assert nft_rows(context) == []

    assert indexer.apply_book(contract_book_from_registry(context)) > 0

    assert kinds(context, token_id) == [
        "claim", "mint", "auction_created", "transfer", "bid"
    ]  # fmt: skip
    assert ExplorerService(context).nft(str(token_id)).in_auction is True
    fresh = make_context(rpc)
    ChainIndexer(fresh, contract_book_from_registry(context)).sync()
    assert nft_rows(context) == nft_rows(fresh)
    assert indexer.index_range(0, m.w3.eth.block_number) > 0
    assert nft_rows(context) == nft_rows(fresh)


# ---- the pages in a real browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[str]:
    """The real application over the world's index, served for Chromium."""
    with serve(create_app(world.context)) as url:
        yield url


@pytest.mark.browser
@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: v.name)
@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("which", ["nft", "auctioned", "owner"])
def test_provenance_pages_render_on_phone_and_desktop(
    world: World,
    served: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    which: str,
    lang: str,
    viewport: Viewport,
) -> None:
    path = {
        "nft": f"/explorer/nft/{world.token_id}",
        "auctioned": f"/explorer/nft/{world.auctioned}",
        "owner": f"/explorer/address/{world.market.people['carol'].address}",
    }[which]
    screenshot = screenshot_dir / slug(f"explorer-{which}", lang, viewport)
    check_page(open_context, served + path, lang, viewport, screenshot)
