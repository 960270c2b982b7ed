"""HTTP routes of the gallery: JSON API under /api/gallery.

Writes need a logged-in user (CSRF-checked by the session middleware); buying, accepting and
bidding need an Idempotency-Key. Moderation is for platform admins (Role.ADMIN acts as the
Gallery's MODERATOR_ROLE holder, through the operator key). Browsing is public and shows
published works only.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from busanchain.accounts.deps import current_user, require_roles
from busanchain.accounts.service import User
from busanchain.domain.roles import Role
from busanchain.gallery.actions import GalleryActions
from busanchain.gallery.market import SIDE_LISTING, SIDE_OFFER
from busanchain.gallery.moderation_pages import moderation_pages
from busanchain.gallery.pages import pages
from busanchain.gallery.schemas import (
    AppealIn,
    AuctionIn,
    BidIn,
    ExhibitionIn,
    FreezeIn,
    OrderIn,
    ReportIn,
    UnfreezeIn,
)
from busanchain.gallery.service import GalleryService, gallery_service_for
from busanchain.platform.context import PlatformContext

api = APIRouter(prefix="/api/gallery", tags=["gallery"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]  # token ids (BIGINT)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # order, auction, exhibition rows (INTEGER)
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Member = Annotated[User, Depends(current_user)]
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
Curator = Annotated[User, Depends(require_roles(Role.ADMIN, Role.STUDIO))]


def _service(request: Request) -> GalleryService:
    return gallery_service_for(request.app.state.context)


def _answer(result: tuple[int, dict[str, Any]]) -> JSONResponse:
    status, body = result
    return JSONResponse(body, status_code=status)


def _public(answer: Any) -> JSONResponse:
    """A public read's answer, written once by `json`: the public answers hold only JSON's
    own types, and FastAPI's `jsonable_encoder` walk of a 24-card page took 0.8 ms, about
    as long as reading it from the database. Anything else still goes through the walk."""
    try:
        return JSONResponse(answer)
    except TypeError:
        return JSONResponse(jsonable_encoder(answer))


# -- listings and offers ------------------------------------------------------------------------


@api.post("/listings", status_code=201)
def create_listing(request: Request, body: OrderIn, user: Member) -> Any:
    """List your work at a fixed price (your key signs; no gas for you)."""
    return _service(request).create_listing(user.id, body.token_id, body.price, body.expiry)


@api.get("/listings/{order_id}")
def listing(request: Request, order_id: RowId) -> Any:
    """A listing or offer and its sale, if filled."""
    return _service(request).order(order_id)


@api.delete("/listings/{order_id}")
def cancel_listing(request: Request, order_id: RowId, user: Member) -> Any:
    """Cancel your listing off chain (free; the platform never co-signs it again)."""
    return _service(request).cancel_listing(user.id, order_id)


@api.post("/listings/{order_id}/buy", status_code=202)
def buy(request: Request, order_id: RowId, user: Member, idempotency_key: IdemKey = None) -> Any:
    """Buy a listing: 200 bought (with the split), 202 pending (repeat with the same key)."""
    return _answer(_service(request).buy(user.id, order_id, idempotency_key))


@api.get("/me/orders")
def my_orders(request: Request, user: Member) -> Any:
    """Your listings and offers that are still open, newest first."""
    return {"items": _service(request).my_orders(user.id)}


@api.post("/me/cancel-all")
def cancel_all(request: Request, user: Member) -> Any:
    """Cancel all your orders on chain (incrementNonce; the platform pays the gas)."""
    return _service(request).cancel_all(user.id)


@api.post("/offers", status_code=201)
def create_offer(request: Request, body: OrderIn, user: Member) -> Any:
    """Offer to buy a work (your key signs the offer)."""
    return _service(request).create_offer(user.id, body.token_id, body.price, body.expiry)


@api.delete("/offers/{order_id}")
def cancel_offer(request: Request, order_id: RowId, user: Member) -> Any:
    """Withdraw your offer off chain."""
    return _service(request).cancel_offer(user.id, order_id)


@api.post("/offers/{order_id}/accept", status_code=202)
def accept_offer(
    request: Request, order_id: RowId, user: Member, idempotency_key: IdemKey = None
) -> Any:
    """Accept an offer on your work: 200 sold, 202 pending."""
    return _answer(_service(request).accept_offer(user.id, order_id, idempotency_key))


# -- auctions -----------------------------------------------------------------------------------


@api.post("/auctions", status_code=201)
def create_auction(request: Request, body: AuctionIn, user: Member) -> Any:
    """Auction your work (it moves into the gallery's escrow until the auction ends)."""
    return _service(request).create_auction(
        user.id, body.token_id, body.reserve, body.start, body.end, body.min_increment_bps
    )


@api.get("/auctions/{auction_id}")
def auction(request: Request, auction_id: RowId) -> Any:
    """An auction: end time (after extensions) and highest bid read from chain, and its bids."""
    return _service(request).auction(auction_id)


@api.post("/auctions/{auction_id}/bids", status_code=202)
def bid(
    request: Request, auction_id: RowId, body: BidIn, user: Member, idempotency_key: IdemKey = None
) -> Any:
    """Bid: 200 placed, 202 pending; the previous highest bidder is refunded at once."""
    return _answer(_service(request).bid(user.id, auction_id, body.amount, idempotency_key))


@api.post("/auctions/{auction_id}/settle")
def settle(request: Request, auction_id: RowId, user: Member) -> Any:
    """Settle an ended auction (anyone logged in; the platform pays the gas)."""
    return _service(request).settle_auction(auction_id)


# -- moderation ---------------------------------------------------------------------------------


@api.post("/reports", status_code=201)
def report(request: Request, body: ReportIn, user: Member) -> Any:
    """Report a work (copy, theft, other)."""
    return _service(request).report(user.id, body.token_id, body.kind, body.text)


@api.post("/tokens/{token_id}/freeze")
def freeze(request: Request, token_id: Id, body: FreezeIn, user: Admin) -> Any:
    """Freeze a work from sale (platform admins)."""
    return _service(request).freeze(user.id, token_id, body.reason_code, body.note)


@api.post("/tokens/{token_id}/unfreeze")
def unfreeze(request: Request, token_id: Id, body: UnfreezeIn, user: Admin) -> Any:
    """Lift a freeze (platform admins)."""
    return _service(request).unfreeze(user.id, token_id, body.note)


@api.post("/tokens/{token_id}/appeal", status_code=201)
def appeal(request: Request, token_id: Id, body: AppealIn, user: Member) -> Any:
    """Appeal the freeze of your work."""
    return _service(request).appeal(user.id, token_id, body.text)


@api.get("/appeals")
def appeals(request: Request, user: Admin) -> Any:
    """Appeals, newest first (platform admins)."""
    return _service(request).appeals()


# -- exhibitions --------------------------------------------------------------------------------


@api.post("/exhibitions", status_code=201)
def create_exhibition(request: Request, body: ExhibitionIn, user: Curator) -> Any:
    """Open an exhibition of published works (admins; approved studios, own works only)."""
    return _service(request).create_exhibition(
        user.id,
        Role.ADMIN in user.roles,
        body.title_ko,
        body.title_en,
        body.description,
        body.token_ids,
    )


@api.get("/exhibitions")
def exhibitions(request: Request) -> Any:
    """Exhibitions, newest first."""
    return _public(_service(request).exhibitions())


@api.get("/exhibitions/{exhibition_id}")
def exhibition(request: Request, exhibition_id: RowId) -> Any:
    """An exhibition and its works."""
    return _public(_service(request).exhibition(exhibition_id))


# -- browse -------------------------------------------------------------------------------------


@api.get("/tokens")
def tokens(
    request: Request,
    studio: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    photographer: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
) -> Any:
    """Published works (filters: studio, photographer, claimed from/to date, text); `page` is
    the `next` cursor of the previous answer."""
    filters = {"studio": studio, "photographer": photographer, "from": from_, "to": to, "q": q}
    return _public(_service(request).tokens(filters, page, limit))


@api.get("/tokens/{token_id}")
def token(request: Request, token_id: Id) -> Any:
    """A work's public card (metadata only if published), listing, auction and frozen flag."""
    return _public(_service(request).token(token_id))


@api.get("/profiles/{address}")
def profile(request: Request, address: Annotated[str, Path(max_length=42)]) -> Any:
    """Published works an address created and owns."""
    return _public(_service(request).profile(address))


def register(app: FastAPI, context: PlatformContext) -> None:
    """Mount the gallery routes (JSON API and pages)."""
    app.include_router(api)
    app.include_router(pages)
    app.include_router(moderation_pages)


# -- ending things on chain (gallery/actions.py) -----------------------------------------------


def _actions(request: Request) -> GalleryActions:
    return GalleryActions(_service(request))


@api.post("/auctions/{auction_id}/cancel")
def cancel_auction(request: Request, auction_id: RowId, user: Member) -> Any:
    """Cancel your auction while it has no bid (the work comes back; the platform pays gas)."""
    return _actions(request).cancel_auction(user.id, auction_id)


@api.post("/auctions/{auction_id}/cancel-frozen", status_code=202)
def cancel_frozen_auction(
    request: Request, auction_id: RowId, user: Admin, idempotency_key: IdemKey = None
) -> Any:
    """Cancel the auction of a frozen work (platform admins): the top bidder is refunded, the
    work goes back to the seller. 200 cancelled, 202 pending (repeat with the same key)."""
    actions = _actions(request)
    return _answer(actions.cancel_frozen_auction(user.id, auction_id, idempotency_key))


@api.post("/listings/{order_id}/cancel-onchain")
def cancel_listing_onchain(request: Request, order_id: RowId, user: Member) -> Any:
    """Cancel your listing for good, on chain too (if its signature may have leaked)."""
    return _actions(request).cancel_order_onchain(user.id, order_id, SIDE_LISTING)


@api.post("/offers/{order_id}/cancel-onchain")
def cancel_offer_onchain(request: Request, order_id: RowId, user: Member) -> Any:
    """Withdraw your offer for good, on chain too."""
    return _actions(request).cancel_order_onchain(user.id, order_id, SIDE_OFFER)


@api.get("/me/credit")
def credit(request: Request, user: Member) -> Any:
    """DigitalWon the gallery holds for you after a payout to you failed."""
    return _actions(request).credit(user.id)


@api.post("/me/withdraw", status_code=202)
def withdraw(request: Request, user: Member, idempotency_key: IdemKey = None) -> Any:
    """Send your whole credit to your own wallet: 200 withdrawn, 202 pending."""
    return _answer(_actions(request).withdraw(user.id, idempotency_key))
