"""ChainView: the public views ask the chain once per page and still never show a stale fact.

Real anvil (automine): a work made private from the owner's own key (behind the platform's
back), a freeze, and a reorg (anvil snapshot / revert) must all show up on the very next read,
while repeated reads at the same head cost exactly one JSON-RPC call. Each test runs with the
facts replayed from the logs (the default) and read lazily (when the history cannot be
replayed).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from busanchain.explorer.service import explorer_service_for
from busanchain.gallery import chainview
from busanchain.gallery.chainview import FROZEN_REASON, IS_PUBLISHED, ChainView, token_calldata
from busanchain.gallery.service import GalleryService, gallery_service_for
from busanchain.keys.service import key_service_for
from busanchain.studio.tables import PhotoRecord
from tests.gallery.conftest import GalleryWorld


@pytest.fixture(params=["replayed", "lazy"], autouse=True)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Replay the logs (the default), or not (as for a history longer than the limit)."""
    if request.param == "lazy":
        monkeypatch.setattr(chainview, "REPLAY_MAX_BLOCKS", -1)
    return str(request.param)


@pytest.fixture
def calls(world: GalleryWorld) -> Iterator[Counter[str]]:
    """Count the JSON-RPC methods the gallery service sends, and the round trips of batches
    under "batch" (the real node still answers)."""
    client = world.gallery.outbox.client
    counted: Counter[str] = Counter()
    original, original_batch = client.request, client.batch

    def request(method: str, params: list[Any]) -> Any:
        counted[method] += 1
        return original(method, params)

    def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        counted["batch"] += 1
        counted.update(method for method, _params in calls)
        return original_batch(calls)

    client.request = request  # type: ignore[method-assign]
    client.batch = batch  # type: ignore[method-assign]
    yield counted
    client.request, client.batch = original, original_batch  # type: ignore[method-assign]


def _unpublish_on_chain(world: GalleryWorld, user_id: int, token_id: int) -> None:
    """The owner unpublishes with their own key, bypassing the platform's services."""
    owner = key_service_for(world.context).signer_for_user(user_id)
    world.gallery._top_up_gas(owner.address)
    nft = world.gallery.chain.nft
    world.gallery.outbox.execute(
        signer=owner,
        intent="test.unpublish",
        to=nft.address,
        data=world.gallery.chain.calldata(nft, "setPublished", [token_id, False]),
    )


def _shown(gallery: GalleryService) -> list[int]:
    return [card["token_id"] for card in gallery.tokens({}, None)["items"]]


def test_a_page_at_an_unchanged_head_costs_one_rpc_call(
    world: GalleryWorld, calls: Counter[str], mode: str
) -> None:
    second, _ = world.claimed_photo(world.seller, 2)

    def pages() -> None:
        assert _shown(world.gallery) == [world.token_id, second]
        world.gallery.token(world.token_id)
        world.gallery.token_view(world.token_id, None)

    pages()
    assert world.gallery.view.replayed is (mode == "replayed")
    if mode == "replayed":  # the facts came from the logs: no eth_call at all
        assert calls["eth_call"] == 0 and calls["eth_getLogs"] >= 2
    else:  # the first time, each fact is read from the chain once
        assert calls["eth_call"] == 3  # isPublished twice, frozenReason once
        assert calls["batch"] == 2  # the browse page's two isPublished go in one round trip
    calls.clear()
    pages()
    assert calls == Counter({"eth_getBlockByNumber": 3})


def _transfer_on_chain(world: GalleryWorld, token_id: int) -> None:
    """The seller gives the work to the buyer with their own key (it becomes private)."""
    owner = key_service_for(world.context).signer_for_user(world.seller.user_id)
    world.gallery._top_up_gas(owner.address)
    nft = world.gallery.chain.nft
    world.gallery.outbox.execute(
        signer=owner,
        intent="test.transfer",
        to=nft.address,
        data=world.gallery.chain.calldata(
            nft, "transferFrom", [owner.address, world.buyer.address, token_id]
        ),
    )


def _facts(view: ChainView, tokens: list[int]) -> tuple[dict[int, bool], dict[int, bytes]]:
    head = view.head()
    assert head is not None
    return view.published_many(tokens, head), view.frozen_many(tokens, head)


def test_replayed_facts_are_the_nodes(world: GalleryWorld, mode: str) -> None:
    """After publishing, unpublishing behind the platform's back, a transfer, a freeze and a
    freeze lifted, a fresh view knows every token's facts from the logs alone, and they are
    what the node answers (a lazy view reads them)."""
    kept, _ = world.claimed_photo(world.seller, 2)
    given, _ = world.claimed_photo(world.seller, 3)
    private, _ = world.claimed_photo(world.seller, 4, publish=False)
    _unpublish_on_chain(world, world.seller.user_id, world.token_id)
    _transfer_on_chain(world, given)
    world.gallery.freeze(world.admin.user_id, kept, "copy", "reported copy")
    world.gallery.freeze(world.admin.user_id, private, "theft", "reported theft")
    world.gallery.unfreeze(world.admin.user_id, private, None)
    tokens = [world.token_id, kept, given, private]

    view = ChainView(world.gallery.chain)
    client = world.gallery.outbox.client
    original = client.calls
    sent: list[int] = []
    client.calls = lambda txs, block="latest": sent.append(len(txs)) or original(txs, block)  # type: ignore[method-assign]
    try:
        published, frozen = _facts(view, tokens)
    finally:
        client.calls = original  # type: ignore[method-assign]
    assert view.replayed is (mode == "replayed")
    assert (sum(sent) == 0) is (mode == "replayed")
    nft, gallery = world.gallery.chain.nft, world.gallery.chain.gallery
    chain = world.gallery.chain
    assert published == {t: bool(chain.read_one(nft, "isPublished", [t])) for t in tokens}
    assert published == {world.token_id: False, kept: True, given: False, private: False}
    assert frozen == {t: bytes(chain.read_one(gallery, "frozenReason", [t])) for t in tokens}
    assert frozen[kept] != bytes(32) and frozen[private] == bytes(32)


def test_no_replay_when_the_node_lost_the_deployment_logs(world: GalleryWorld, mode: str) -> None:
    """A node restored from a state snapshot may answer no logs for old blocks: the view then
    reads facts lazily rather than take every token for private."""
    client = world.gallery.outbox.client
    original = client.request

    def forgetful(method: str, params: list[Any]) -> Any:
        if method == "eth_getLogs" and "topics" not in params[0]:
            return []  # the deployment-block probe: nothing kept
        return original(method, params)

    client.request = forgetful  # type: ignore[method-assign]
    try:
        view = ChainView(world.gallery.chain)
        published, _frozen = _facts(view, [world.token_id])
        assert view.replayed is False
    finally:
        client.request = original  # type: ignore[method-assign]
    assert published == {world.token_id: True}


def test_a_work_made_private_behind_the_platforms_back_drops_out_at_once(
    world: GalleryWorld,
) -> None:
    assert _shown(world.gallery) == [world.token_id]  # cached as published at this head
    _unpublish_on_chain(world, world.seller.user_id, world.token_id)

    assert _shown(world.gallery) == []
    with world.context.unit_of_work() as session:
        photo = session.get(PhotoRecord, world.photo_id)
        assert photo is not None and photo.published is False  # the row was brought up to date


def test_freeze_and_unfreeze_show_on_the_next_read(world: GalleryWorld) -> None:
    assert world.gallery.token(world.token_id)["frozen"] is False
    world.gallery.freeze(world.admin.user_id, world.token_id, "copy", "reported copy")
    assert world.gallery.token(world.token_id)["frozen"] is True
    assert world.gallery.frozen_reason(world.token_id) == "copy"
    world.gallery.unfreeze(world.admin.user_id, world.token_id, None)
    assert world.gallery.token(world.token_id)["frozen"] is False


def test_a_reorg_drops_what_was_cached_on_the_lost_branch(world: GalleryWorld) -> None:
    client = world.gallery.outbox.client
    view = world.gallery.view
    snapshot = client.request("evm_snapshot", [])
    _unpublish_on_chain(world, world.seller.user_id, world.token_id)
    head = view.head()
    assert head is not None and view.is_published(world.token_id, head) is False

    assert client.request("evm_revert", [snapshot]) is True
    client.request("evm_mine", [])  # the branch without the unpublish, as long as the old one
    client.request("evm_mine", [])
    head = view.head()
    assert head is not None and view.is_published(world.token_id, head) is True


def test_the_service_is_shared_per_context(world: GalleryWorld) -> None:
    first = gallery_service_for(world.context)
    assert gallery_service_for(world.context) is first
    assert first.view is first.view
    # the token page's provenance reads through one explorer service (and contract book)
    assert explorer_service_for(world.context) is explorer_service_for(world.context)


def test_concurrent_pages_share_head_reads_but_never_an_older_one(world: GalleryWorld) -> None:
    """16 pages at once: they share head reads (the node is slowed to 50 ms a read so that
    they overlap), and a page that arrives while a read is on its way waits for the next one:
    a block mined during that read is seen."""
    client = world.gallery.outbox.client
    original = client.request
    reads: list[int] = []
    mine_during_first_read = threading.Event()

    def slow(method: str, params: list[Any]) -> Any:
        if method != "eth_getBlockByNumber" or params[0] != "latest":
            return original(method, params)
        answer = original(method, params)
        reads.append(int(answer["number"], 16))
        if len(reads) == 1:
            original("evm_mine", [])  # a new block after the first read was answered
            mine_during_first_read.set()
            time.sleep(0.2)  # ... while that answer is still on its way back
        time.sleep(0.05)
        return answer

    client.request = slow  # type: ignore[method-assign]
    try:
        view = world.gallery.view
        first = threading.Thread(target=view.head)
        first.start()
        assert mine_during_first_read.wait(5)
        with ThreadPoolExecutor(16) as pool:  # all arrive while the first read is on its way
            heads = list(pool.map(lambda _: view.head(), range(16)))
        first.join(5)
    finally:
        client.request = original  # type: ignore[method-assign]
    assert all(h is not None and h.number == reads[0] + 1 for h in heads)
    assert len(reads) <= 3  # one for the first page, one or two shared by the 16


@pytest.mark.parametrize("token_id", [0, 1, 255, 10_000, 2**256 - 1])
def test_hand_built_calldata_equals_web3s(world: GalleryWorld, token_id: int) -> None:
    chain = world.gallery.view.chain
    assert token_calldata(IS_PUBLISHED, token_id) == chain.nft.encode_abi("isPublished", [token_id])
    assert token_calldata(FROZEN_REASON, token_id) == chain.gallery.encode_abi(
        "frozenReason", [token_id]
    )
