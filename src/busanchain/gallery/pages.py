"""Pages of the gallery: browse and search, exhibitions, a work's page, profiles, and the
exhibition form.

The pages are thin: they read through `GalleryService` (and the explorer's provenance) and do
their writes with the JSON API (`/api/gallery/...`) from the browser. Every money action
(buy, accept an offer, bid) gets an Idempotency-Key rendered into the page, so a double
click or a retry after a dropped connection replays the first answer instead of paying
twice. A private (unpublished) work's page is 404 for everyone but its holder.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from busanchain.accounts.deps import optional_user
from busanchain.accounts.service import User
from busanchain.domain.errors import NotFound, PermissionDenied
from busanchain.domain.roles import Role
from busanchain.explorer.service import explorer_service_for
from busanchain.gallery.actions import GalleryActions
from busanchain.gallery.service import (
    FREEZE_REASONS,
    REPORT_KINDS,
    GalleryService,
    gallery_service_for,
)
from busanchain.http.i18n import pick, request_lang
from busanchain.keys.service import key_service_for

pages = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]  # token ids (BIGINT)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # order, auction, exhibition rows (INTEGER)
SmallId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
BROWSE_PAGE = 24
FREEZE_LABELS = {
    "copy": ("무단 복제", "Copy of another work"),
    "theft": ("도난", "Stolen"),
    "abuse": ("부적절한 내용", "Abusive content"),
    "privacy": ("사생활 침해", "Privacy violation"),
    "other": ("기타", "Other"),
}
REPORT_LABELS = {
    "copy": ("복제(남의 작품을 베낌)", "Copy of someone's work"),
    "theft": ("도난(내 사진을 훔침)", "Theft of my photo"),
    "other": ("기타", "Other"),
}
EVENT_LABELS = {
    "claim": ("발행(수령)", "Issued (claimed)"),
    "mint": ("발행", "Minted"),
    "transfer": ("이전", "Transfer"),
    "publish": ("공개", "Published"),
    "unpublish": ("비공개", "Made private"),
    "sale": ("판매", "Sale"),
    "auction_created": ("경매 시작", "Auction started"),
    "bid": ("입찰", "Bid"),
    "auction_settled": ("경매 종료", "Auction settled"),
    "auction_cancelled": ("경매 취소", "Auction cancelled"),
    "frozen": ("거래 정지", "Frozen"),
    "unfrozen": ("정지 해제", "Unfrozen"),
    "appealed": ("이의 제기", "Appealed"),
}


def _service(request: Request) -> GalleryService:
    return gallery_service_for(request.app.state.context)


def _labels(lang: str, table: dict[str, tuple[str, str]]) -> Any:
    def label(code: str | None) -> str:
        ko, en = table.get(code or "", (code or "-", code or "-"))
        return pick(lang, ko, en)

    return label


def _render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    lang = request_lang(request)
    values.setdefault("freeze_label", _labels(lang, FREEZE_LABELS))
    values.setdefault("event_label", _labels(lang, EVENT_LABELS))
    values.setdefault("mask", mask_address)
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, f"gallery/{name}", values, status_code=status
    )
    return response


def mask_address(address: str | None) -> str:
    """An address shortened for people (0x1234…abcd); the full one stays in the link."""
    if not address:
        return "-"
    return f"{address[:6]}…{address[-4:]}"


def _viewer_address(request: Request, user: User | None) -> str | None:
    """The logged-in user's custodial address (the wallet the gallery acts for)."""
    if user is None:
        return None
    return key_service_for(request.app.state.context).custodial_address(user.id)


# -- browse --------------------------------------------------------------------------------------


@pages.get("/gallery", response_class=HTMLResponse)
def gallery_page(
    request: Request,
    studio: SmallId = None,
    photographer: SmallId = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> Response:
    """Published works (thumbnail grid, keyset "more"), search, and current exhibitions."""
    service = _service(request)
    text = (q or "").strip() or None
    filters = {"studio": studio, "photographer": photographer, "from": from_, "to": to, "q": text}
    found = service.browse_page(filters, page, BROWSE_PAGE, 6 if page is None else 0)
    kept = {k: v for k, v in filters.items() if v is not None}
    return _render(
        request,
        "browse.html",
        works=found["items"],
        next_page=found["next"],
        filters=kept,
        exhibitions=found["exhibitions"],
        studios=found["studios"],
        first_page=page is None,
    )


# -- exhibitions -------------------------------------------------------------------------------


@pages.get("/gallery/exhibitions/new", response_class=HTMLResponse)
def new_exhibition_page(request: Request) -> Response:
    """Open an exhibition from published works (admins: any; approved studios: their own)."""
    user = optional_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if not {Role.ADMIN, Role.STUDIO} & set(user.roles):
        raise PermissionDenied
    works = _service(request).curatable(user.id, Role.ADMIN in user.roles)
    return _render(request, "exhibition_new.html", works=works)


@pages.get("/gallery/exhibitions/{exhibition_id}", response_class=HTMLResponse)
def exhibition_page(request: Request, exhibition_id: RowId) -> Response:
    """An exhibition: title, description and the works still published."""
    return _render(request, "exhibition.html", show=_service(request).exhibition(exhibition_id))


# -- a work ------------------------------------------------------------------------------------


def _provenance(request: Request, token_id: int) -> list[Any]:
    """The work's indexed history from the explorer (empty until the indexer has seen it)."""
    try:
        found = explorer_service_for(request.app.state.context).provenance(str(token_id))
    except NotFound:
        return []
    return list(found.events)


def _role(work: dict[str, Any], user: User | None, viewer: str | None) -> str:
    """owner, member (logged in, not the owner) or visitor."""
    if user is None:
        return "visitor"
    if viewer and (work.get("owner") or "").lower() == viewer.lower():
        return "owner"
    return "member"


@pages.get("/gallery/tokens/{token_id}", response_class=HTMLResponse)
def token_page(request: Request, token_id: Id) -> Response:
    """A work: image, details, market (listing, offer, auction), provenance and actions."""
    user = optional_user(request)
    viewer = _viewer_address(request, user)
    work = _service(request).token_view(token_id, viewer)
    role = _role(work, user, viewer)
    response = _render(
        request,
        "token.html",
        work=work,
        role=role,
        viewer=viewer,
        is_admin=user is not None and Role.ADMIN in user.roles,
        history=_provenance(request, token_id),
        keys={name: secrets.token_hex(16) for name in ("buy", "accept", "bid")},
        freeze_reasons=FREEZE_REASONS,
        report_kinds=[(k, pick(request_lang(request), *REPORT_LABELS[k])) for k in REPORT_KINDS],
    )
    response.headers["Cache-Control"] = "no-store"  # the keys are single-use
    return response


# -- profiles ----------------------------------------------------------------------------------


@pages.get("/gallery/profiles/{address}", response_class=HTMLResponse)
def profile_page(request: Request, address: Annotated[str, Path(max_length=42)]) -> Response:
    """A creator's and owner's profile: published works created and owned."""
    return _render(request, "profile.html", profile=_service(request).profile(address))


# -- my gallery: my profile and my credit ------------------------------------------------------


@pages.get("/gallery/me", response_class=HTMLResponse)
def my_gallery_page(request: Request) -> Response:
    """Your own profile; your open listings and offers, each cancelled off chain (free) or on
    chain (if its signature may have leaked), or all at once on chain; and the DigitalWon the
    gallery holds for you after a payout to you failed (a credit), with a withdraw button."""
    user = optional_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    viewer = _viewer_address(request, user)
    if viewer is None:
        raise NotFound("You have no wallet yet.", "아직 지갑이 없습니다.")
    service = _service(request)
    response = _render(
        request,
        "profile.html",
        profile=service.profile(viewer),
        mine=True,
        credit=GalleryActions(service).credit_of(viewer),
        withdraw_key=secrets.token_hex(16),
        orders=service.my_orders(user.id),
    )
    response.headers["Cache-Control"] = "no-store"  # the key is single-use
    return response
