"""Turning decoded PhotoNFT and Gallery logs into provenance rows (no chain needed)."""

from __future__ import annotations

import json
from typing import Any

from busanchain.explorer.nft import GALLERY, PHOTO_NFT, nft_event, resolve_auctions
from busanchain.explorer.tables import IndexedLog, NftEvent

GALLERY_ADDRESS = "0x" + "ab" * 20
ALICE = "0x" + "11" * 20


def log(
    name: str, args: dict[str, Any], index: int = 0, address: str = GALLERY_ADDRESS
) -> IndexedLog:
    """A decoded log row as the indexer stores it."""
    return IndexedLog(
        block_hash="0x" + "00" * 32,
        log_index=index,
        block_number=7,
        tx_hash="0x" + "01" * 32,
        tx_index=0,
        address=address,
        topics="[]",
        data="0x",
        event_name=name,
        event_args=json.dumps([{"name": k, "type": "", "value": v} for k, v in args.items()]),
    )


def test_only_token_events_of_the_two_contracts_become_rows() -> None:
    transfer = log("Transfer", {"from": "0x" + "00" * 20, "to": ALICE, "tokenId": "3"})
    row = nft_event(transfer, PHOTO_NFT)
    assert row is not None and (row.kind, row.token_id, row.from_address) == ("mint", "3", None)
    assert nft_event(transfer, None) is None  # unknown contract
    assert nft_event(transfer, "DigitalWon") is None
    assert nft_event(log("NonceIncremented", {"maker": ALICE, "newNonce": "1"}), GALLERY) is None
    assert nft_event(log("Sale", {"tokenId": "3"}), GALLERY) is None  # another shape
    undecoded = log("Transfer", {})
    undecoded.event_args = None
    assert nft_event(undecoded, PHOTO_NFT) is None


def test_bids_take_the_token_of_their_auction_or_are_dropped() -> None:
    created = nft_event(
        log("AuctionCreated", {"auctionId": "1", "tokenId": "9", "seller": ALICE, "reserve": "5"}),
        GALLERY,
    )
    bid = nft_event(
        log("BidPlaced", {"auctionId": "1", "bidder": ALICE, "amount": "6"}, 1), GALLERY
    )
    earlier = nft_event(
        log("BidPlaced", {"auctionId": "2", "bidder": ALICE, "amount": "8"}, 2), GALLERY
    )
    orphan = nft_event(log("AuctionCancelled", {"auctionId": "3"}, 3), GALLERY)
    events = [e for e in (created, bid, earlier, orphan) if isinstance(e, NftEvent)]
    asked: list[tuple[str, list[str]]] = []

    def lookup(contract: str, ids: Any) -> dict[str, str]:
        asked.append((contract, list(ids)))
        return {"2": "4"}

    kept = resolve_auctions(events, lookup)

    assert [(e.kind, e.token_id) for e in kept] == [
        ("auction_created", "9"),
        ("bid", "9"),
        ("bid", "4"),
    ]
    assert asked == [(GALLERY_ADDRESS, ["2", "3"])]
