"""The demo gallery for `busanchain up --demo`: a listing, an auction and an exhibition.

Built on the demo studio's claimed photos (`studio/demo.py`): citizen1 lists one published
photo for sale, citizen2 puts another published photo up for auction (the gallery holds it
in escrow and it stays published until a winner takes it), and the studio opens the exhibition
"부산의 바다 / Busan Seas" of the published photos. Idempotent: a live listing, a live
auction and an exhibition with the demo title are each made once. A step that cannot be done
(for example the photo was sold meanwhile) is skipped with a line: a demo never stops the
platform from starting.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from busanchain.domain.errors import BusanchainError
from busanchain.gallery import repository as repo
from busanchain.gallery.service import GalleryService
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.studio.demo import (
    AUCTIONED_SEED,
    EXHIBITED_SEEDS,
    LISTED_SEED,
    StudioDemo,
    safe_load_demo_studio,
)

log = logging.getLogger(__name__)

LISTING_PRICE = 30_000  # DigitalWon (KRW)
LISTING_TTL_S = 90 * 24 * 3600
AUCTION_RESERVE = 50_000
AUCTION_TTL_S = 3 * 24 * 3600
EXHIBITION_TITLE = ("부산의 바다", "Busan Seas")
EXHIBITION_TEXT = (
    "부산 사진관이 담은 광안리, 해운대, 영도의 바다. / "
    "The seas of Gwangalli, Haeundae and Yeongdo, by Busan Photo Studio."
)


def load_photo_demo(context: PlatformContext, user_ids: dict[str, int]) -> list[str]:
    """The demo studio, then the demo gallery on its photos (idempotent); lines to print."""
    demo = safe_load_demo_studio(context, user_ids)
    if demo is None:
        return ["  사진관 데모 건너뜀 / studio demo skipped (see the log)"]
    return demo.lines + load_demo_gallery(context, demo)


def load_demo_gallery(context: PlatformContext, demo: StudioDemo) -> list[str]:
    """List, auction and exhibit the demo studio's photos (idempotent); lines to print."""
    gallery = GalleryService(context)
    base = context.settings.web_url
    lines = [f"  갤러리 / gallery: {base}/gallery"]
    for step in (_listing_line, _auction_line, _exhibition_line):
        try:
            lines.append(step(gallery, demo))
        except BusanchainError as exc:
            log.warning("gallery demo step skipped: %s", exc.message_en)
            lines.append(f"  갤러리 데모 건너뜀 / gallery demo step skipped: {exc.message_en}")
    return lines


def _holds(gallery: GalleryService, user_id: int, token_id: int) -> bool:
    """True if the user's custodial wallet holds the token now (read from the chain)."""
    address = key_service_for(gallery.context).custodial_address(user_id)
    return address is not None and gallery.chain.owner(token_id) == address


def demo_listing(gallery: GalleryService, demo: StudioDemo) -> dict[str, Any] | None:
    """The open listing of the demo photo, made if there is none and its owner still holds it."""
    token_id, seller = demo.tokens.get(LISTED_SEED), demo.owners.get(LISTED_SEED)
    if token_id is None or seller is None:
        return None
    now = gallery.chain.chain_time()
    with gallery.context.unit_of_work() as session:
        best = repo.best_listing(session, token_id, now)
        if best is not None:
            return {"id": best.id, "token_id": token_id, "price": best.price}
    if not _holds(gallery, seller, token_id):
        return None
    return gallery.create_listing(seller, token_id, LISTING_PRICE, now + LISTING_TTL_S)


def demo_auction(gallery: GalleryService, demo: StudioDemo) -> dict[str, Any] | None:
    """The live auction of the demo photo, started if there is none and its owner holds it."""
    token_id, seller = demo.tokens.get(AUCTIONED_SEED), demo.owners.get(AUCTIONED_SEED)
    if token_id is None or seller is None:
        return None
    with gallery.context.unit_of_work() as session:
        live = repo.live_auction_of_token(session, token_id)
        if live is not None:
            return {"id": live.id, "token_id": token_id, "reserve": live.reserve}
    if not _holds(gallery, seller, token_id):
        return None
    end = gallery.chain.chain_time() + AUCTION_TTL_S
    return gallery.create_auction(seller, token_id, AUCTION_RESERVE, 0, end)


def demo_exhibition(gallery: GalleryService, demo: StudioDemo) -> dict[str, Any] | None:
    """The studio's exhibition "부산의 바다" of its published demo photos (opened once)."""
    with gallery.context.unit_of_work() as session:
        for row in repo.exhibitions(session):
            if row.title_ko == EXHIBITION_TITLE[0] and row.studio_id == demo.studio_id:
                return {"id": row.id, "title_ko": row.title_ko}
        wanted = [demo.tokens[s] for s in EXHIBITED_SEEDS if s in demo.tokens]
        shown = [t for t in wanted if _published(session, t)]
    if not shown:
        return None
    title_ko, title_en = EXHIBITION_TITLE
    return gallery.create_exhibition(
        demo.owner_id, False, title_ko, title_en, EXHIBITION_TEXT, shown
    )


def _published(session: Session, token_id: int) -> bool:
    """True if the token's photo is published (as last synced from the chain)."""
    photo = repo.photo_of_token(session, token_id)
    return photo is not None and photo.published


def _listing_line(gallery: GalleryService, demo: StudioDemo) -> str:
    """The listed token's gallery page."""
    listing = demo_listing(gallery, demo)
    if listing is None:
        return "  판매 등록 없음 / no demo listing (the photo changed hands)"
    base = gallery.context.settings.web_url
    return (
        f"  판매 중 / for sale: token {listing['token_id']} at {listing['price']:,} KRW "
        f"{base}/gallery/tokens/{listing['token_id']}"
    )


def _auction_line(gallery: GalleryService, demo: StudioDemo) -> str:
    """The auctioned token's gallery page (published, so anyone can see it and bid)."""
    auction = demo_auction(gallery, demo)
    if auction is None:
        return "  경매 없음 / no demo auction (the photo changed hands)"
    base = gallery.context.settings.web_url
    return (
        f"  경매 / auction: token {auction['token_id']}, reserve {auction['reserve']:,} KRW "
        f"{base}/gallery/tokens/{auction['token_id']}"
    )


def _exhibition_line(gallery: GalleryService, demo: StudioDemo) -> str:
    """The exhibition's gallery page."""
    exhibition = demo_exhibition(gallery, demo)
    if exhibition is None:
        return "  전시 없음 / no demo exhibition (no published photos)"
    base = gallery.context.settings.web_url
    title_ko, title_en = EXHIBITION_TITLE
    url = f"{base}/gallery/exhibitions/{exhibition['id']}"
    return f"  전시 / exhibition: {title_ko} / {title_en} {url}"
