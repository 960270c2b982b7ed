"""The photo follower: indexed NFT events bring photo rows in line with the chain."""

from __future__ import annotations

import time

from busanchain.explorer.indexer import ChainIndexer
from busanchain.explorer.service import contract_book_from_registry
from busanchain.gallery.service import PhotoFollower
from busanchain.studio.tables import PhotoRecord
from tests.gallery.conftest import GalleryWorld


def _wallet_transfer(world: GalleryWorld, owner: str, to: str) -> None:
    """Move the token from the owner's wallet, outside the platform."""
    client = world.gallery.outbox.client
    client.request("anvil_setBalance", [owner, hex(10**18)])
    client.request("anvil_impersonateAccount", [owner])
    data = world.studio.nft.encode_abi("transferFrom", [owner, to, world.token_id])
    tx_hash = client.request(
        "eth_sendTransaction", [{"from": owner, "to": world.studio.nft.address, "data": data}]
    )
    client.request("anvil_stopImpersonatingAccount", [owner])
    deadline = time.monotonic() + 30
    while client.receipt(tx_hash) is None and time.monotonic() < deadline:
        time.sleep(0.05)


def _row(world: GalleryWorld) -> PhotoRecord:
    with world.context.unit_of_work() as session:
        row = session.get(PhotoRecord, world.photo_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_wallet_transfer_reaches_the_photo_row_through_the_index(world: GalleryWorld) -> None:
    indexer = ChainIndexer(world.context, contract_book_from_registry(world.context))
    indexer.sync()
    follower = PhotoFollower(world.context)
    assert follower.pass_once() >= 1  # the first pass re-checks every token that moved
    assert follower.pass_once() == 0  # nothing new: nothing synced, no chain reads
    before = _row(world)
    assert before.owner_address == world.seller.address and before.published

    _wallet_transfer(world, world.seller.address, world.buyer.address)
    assert _row(world).owner_address == world.seller.address  # the database cannot know yet
    indexer.sync()
    assert follower.pass_once() == 1
    after = _row(world)
    assert after.owner_address == world.buyer.address
    assert not after.published  # a transfer makes a portrait private again
    assert [p["id"] for p in world.studio.my_photos(world.buyer.user_id)] == [world.photo_id]
    assert world.studio.my_photos(world.seller.user_id) == []
    assert follower.pass_once() == 0
