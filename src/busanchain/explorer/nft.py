"""NFT provenance rows: PhotoNFT and Gallery logs turned into `explorer_nft_events` rows.

The indexer decodes a known contract's logs by ABI first (`IndexedLog.event_args`); this
module reads those decoded arguments and keeps the events that belong to one token's history:
mint, claim, transfer, publish/unpublish (PhotoNFT) and sale, auction, bid, freeze, unfreeze,
appeal (Gallery). Bids, settlements and cancellations name only the auction; the caller fills
their token id from the auction's `auction_created` row (`resolve_auctions`). Events that
concern no single token (nonces, cancelled orders, credits, role changes) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from busanchain.explorer.tables import IndexedLog, NftEvent

PHOTO_NFT = "PhotoNFT"
GALLERY = "Gallery"
ZERO_ADDRESS = "0x" + "0" * 40
SALE_KINDS = ("listing", "offer", "auction")  # Gallery.SaleKind
AUCTION_KINDS = frozenset({"bid", "auction_settled", "auction_cancelled"})
NFT_EVENT_KINDS = (
    "claim",
    "mint",
    "transfer",
    "publish",
    "unpublish",
    "sale",
    "auction_created",
    "bid",
    "auction_settled",
    "auction_cancelled",
    "frozen",
    "unfrozen",
    "appealed",
)

Args = Mapping[str, Any]
Fields = dict[str, Any]
AuctionLookup = Callable[[str, Sequence[str]], Mapping[str, str]]


def _address(value: Any) -> str | None:
    """An address argument, or None for the zero address."""
    text = str(value) if value else None
    return None if text is None or int(text, 16) == 0 else text


def _photo_transfer(args: Args) -> Fields:
    origin = _address(args["from"])
    return {
        "kind": "transfer" if origin else "mint",
        "token_id": args["tokenId"],
        "from_address": origin,
        "to_address": _address(args["to"]),
    }


def _claimed(args: Args) -> Fields:
    return {
        "kind": "claim",
        "token_id": args["tokenId"],
        "from_address": args["studio"],
        "to_address": args["to"],
        "ref": args["contentHash"],
    }


def _published(args: Args) -> Fields:
    return {"kind": "publish" if args["published"] else "unpublish", "token_id": args["tokenId"]}


def _sale(args: Args) -> Fields:
    kind = int(args["kind"])
    return {
        "kind": "sale",
        "token_id": args["tokenId"],
        "from_address": args["seller"],
        "to_address": args["buyer"],
        "price": args["price"],
        "royalty": args["royalty"],
        "royalty_receiver": _address(args["royaltyReceiver"]),
        "fee": args["fee"],
        "sale_kind": SALE_KINDS[kind] if kind < len(SALE_KINDS) else str(kind),
        "ref": args["ref"],
    }


def _auction_created(args: Args) -> Fields:
    return {
        "kind": "auction_created",
        "token_id": args["tokenId"],
        "auction_id": args["auctionId"],
        "from_address": args["seller"],
        "price": args["reserve"],
    }


def _bid(args: Args) -> Fields:
    return {
        "kind": "bid",
        "auction_id": args["auctionId"],
        "from_address": args["bidder"],
        "price": args["amount"],
    }


def _auction_settled(args: Args) -> Fields:
    return {
        "kind": "auction_settled",
        "auction_id": args["auctionId"],
        "to_address": _address(args["winner"]),
        "price": args["amount"],
    }


def _auction_cancelled(args: Args) -> Fields:
    return {"kind": "auction_cancelled", "auction_id": args["auctionId"]}


def _frozen(args: Args) -> Fields:
    return {
        "kind": "frozen",
        "token_id": args["tokenId"],
        "from_address": args["moderator"],
        "ref": args["reasonCode"],
    }


def _unfrozen(args: Args) -> Fields:
    return {"kind": "unfrozen", "token_id": args["tokenId"], "from_address": args["moderator"]}


def _appealed(args: Args) -> Fields:
    return {"kind": "appealed", "token_id": args["tokenId"], "from_address": args["owner"]}


BUILDERS: dict[str, dict[str, Callable[[Args], Fields]]] = {
    PHOTO_NFT: {"Transfer": _photo_transfer, "Claimed": _claimed, "PublishedSet": _published},
    GALLERY: {
        "Sale": _sale,
        "AuctionCreated": _auction_created,
        "BidPlaced": _bid,
        "AuctionSettled": _auction_settled,
        "AuctionCancelled": _auction_cancelled,
        "Frozen": _frozen,
        "Unfrozen": _unfrozen,
        "Appealed": _appealed,
    },
}


def nft_event(row: IndexedLog, contract_name: str | None) -> NftEvent | None:
    """The provenance row for a decoded PhotoNFT or Gallery log; None for anything else.

    Auction events come back with `token_id` empty ("") until `resolve_auctions` fills it.
    """
    builder = BUILDERS.get(contract_name or "", {}).get(row.event_name or "")
    if builder is None or not row.event_args:
        return None
    args = {a["name"]: a["value"] for a in json.loads(row.event_args)}
    try:
        fields = builder(args)
    except (KeyError, ValueError, TypeError):
        return None  # an event of the same name with another shape
    fields.setdefault("token_id", "")
    return NftEvent(
        block_hash=row.block_hash,
        log_index=row.log_index,
        block_number=row.block_number,
        tx_hash=row.tx_hash,
        contract=row.address,
        **fields,
    )


def resolve_auctions(events: list[NftEvent], lookup: AuctionLookup) -> list[NftEvent]:
    """Fill the token id of bids, settlements and cancellations; drop the unresolvable.

    Auctions created earlier in `events` are used first, then `lookup(contract, auction_ids)`
    (the indexed `auction_created` rows). `events` must be in chain order.
    """
    created: dict[tuple[str, str | None], str] = {
        (e.contract, e.auction_id): e.token_id for e in events if e.kind == "auction_created"
    }
    missing: dict[str, set[str]] = {}
    for e in events:
        if e.kind in AUCTION_KINDS and (e.contract, e.auction_id) not in created:
            missing.setdefault(e.contract, set()).add(str(e.auction_id))
    for contract, ids in missing.items():
        for auction_id, token in lookup(contract, sorted(ids)).items():
            created.setdefault((contract, auction_id), token)
    kept: list[NftEvent] = []
    for e in events:
        if e.kind in AUCTION_KINDS:
            resolved = created.get((e.contract, e.auction_id))
            if resolved is None:
                continue
            e.token_id = resolved
        kept.append(e)
    return kept
