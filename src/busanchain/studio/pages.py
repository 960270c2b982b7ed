"""Pages of the photo studio: the studio console, the counter hand-over, the customer's claim
page and "내 사진" (my photos).

The pages are thin: they read through `StudioService` and do their writes with the JSON API
(`/api/studio/...`) from the browser, except the claim-code hand-over, which is a form POST so
the one-time code is rendered by the server into a page that is never cached. Private images
are never put into a page for someone who may not see them: the claim page shows the public
placeholder until the visitor owns the photo.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field

from busanchain.accounts.deps import optional_user
from busanchain.accounts.service import User, account_service_for
from busanchain.domain.errors import BusanchainError, NotFound, PermissionDenied
from busanchain.domain.roles import Role
from busanchain.http.i18n import pick, request_lang
from busanchain.merchants.qr import qr_svg
from busanchain.studio.cid import cid_of_bytes
from busanchain.studio.contracts import MAX_ROYALTY_BPS
from busanchain.studio.credentials import StudioCredentialService
from busanchain.studio.service import MAX_FILES_PER_UPLOAD, StudioService, studio_service_for
from busanchain.studio.store import placeholder_png
from busanchain.studio.tables import PhotoState, StudioStatus

pages = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
# photo ids chosen in a form (a 32-bit key: anything larger is a 422, not a database error)
PhotoIds = Annotated[list[Annotated[int, Field(ge=1, le=2_147_483_647)]], Form()]
ClaimCode = Annotated[str, Path(max_length=80)]
MAX_ISSUE_PER_CLICK = 20
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
UPLOAD_ACCEPT = (
    "image/jpeg,image/png,image/webp,image/heic,image/heif,.jpg,.jpeg,.png,.webp,.heic,.heif"
)


def _service(request: Request) -> StudioService:
    return studio_service_for(request.app.state.context)


def _render(
    request: Request, name: str, status: int = 200, no_store: bool = False, **values: Any
) -> HTMLResponse:
    templates = request.app.state.templates
    values.setdefault("state_label", lambda state: _state_label(request_lang(request), state))
    response: HTMLResponse = templates.TemplateResponse(
        request, f"studio/{name}", values, status_code=status
    )
    if no_store:
        response.headers.update(NO_STORE)
    return response


def _page_user(request: Request, role: Role | None) -> User | RedirectResponse:
    """The logged-in user holding `role` (any user when None); visitors go to /login."""
    user = optional_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if role is not None and role not in user.roles:
        if role in user.held_roles:
            raise PermissionDenied(
                "This role needs a session verified with your TOTP code.",
                "이 역할은 2단계 인증(OTP) 코드로 로그인한 세션에서만 쓸 수 있습니다.",
            )
        raise PermissionDenied
    return user


STATE_LABELS = {
    StudioStatus.PENDING: ("승인 대기", "Waiting for approval"),
    StudioStatus.APPROVING: ("승인 처리 중", "Being approved"),
    StudioStatus.ACTIVE: ("승인됨", "Approved"),
    StudioStatus.SUSPENDING: ("정지 처리 중", "Being suspended"),
    StudioStatus.SUSPENDED: ("정지됨", "Suspended"),
    StudioStatus.REJECTED: ("반려됨", "Rejected"),
    PhotoState.UPLOADED: ("올림", "Uploaded"),
    PhotoState.ISSUED: ("코드 발급", "Code issued"),
    PhotoState.REISSUING: ("코드 재발급 중", "Re-issuing the code"),
    PhotoState.CLAIMING: ("받는 중", "Being claimed"),
    PhotoState.CLAIMED: ("받음", "Claimed"),
}


def _state_label(lang: str, state: str) -> str:
    ko, en = STATE_LABELS.get(state, (state, state))
    return pick(lang, ko, en)


def _public_base(request: Request) -> str:
    """The platform's public URL (BUSANCHAIN_PUBLIC_URL), else the URL this page was asked at."""
    configured = request.app.state.context.settings.extra.get("BUSANCHAIN_PUBLIC_URL")
    return str(configured or request.base_url).rstrip("/")


def handover_links(claim_url: str, lang: str) -> dict[str, str]:
    """QR code (inline SVG), `sms:` and `mailto:` links that hand the claim URL to the phone."""
    subject = pick(lang, "사진 받기 링크", "Your photo")
    body = quote(claim_url, safe="")
    return {
        "qr": qr_svg(claim_url, scale=10),
        "sms": f"sms:?&body={body}",
        "mailto": f"mailto:?subject={quote(subject, safe='')}&body={body}",
    }


# -- the studio console ------------------------------------------------------------------------


@pages.get("/studio", response_class=HTMLResponse)
def studio_page(request: Request) -> Response:
    """The studio console: register, status, photographers and sessions."""
    user = _page_user(request, Role.STUDIO)
    if isinstance(user, Response):
        return user
    service = _service(request)
    try:
        studio = service.my_studio(user.id)
    except NotFound:
        return _render(request, "register.html", max_royalty=MAX_ROYALTY_BPS)
    return _render(
        request,
        "console.html",
        studio=studio,
        photographers=service.photographers(user.id),
        sessions=service.sessions(user.id),
        credentials=StudioCredentialService(service.context).facts_of_owner(user.id),
        max_royalty=MAX_ROYALTY_BPS,
    )


@pages.get("/studio/sessions/new", response_class=HTMLResponse)
def new_session_page(request: Request) -> Response:
    """Open a shooting session (named by a code, never by the customer)."""
    user = _page_user(request, Role.STUDIO)
    if isinstance(user, Response):
        return user
    service = _service(request)
    try:
        studio = service.my_studio(user.id)
    except NotFound:
        return RedirectResponse("/studio", status_code=303)
    return _render(
        request,
        "session_new.html",
        studio=studio,
        photographers=service.photographers(user.id),
    )


@pages.get("/studio/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, session_id: Id) -> Response:
    """Upload photos, see them, pick photos and issue claim codes, and track the claims."""
    user = _page_user(request, Role.STUDIO)
    if isinstance(user, Response):
        return user
    service = _service(request)
    detail = service.session_detail(user.id, session_id)
    return _render(
        request,
        "session.html",
        studio=service.my_studio(user.id),
        shoot=detail,
        photos=detail["photos"],
        issue_key=secrets.token_hex(16),
        reissue_key=secrets.token_hex(16),
        placeholder_cid=cid_of_bytes(placeholder_png()),
        accept=UPLOAD_ACCEPT,
        max_files=MAX_FILES_PER_UPLOAD,
    )


@pages.post("/studio/sessions/{session_id}/issue", response_class=HTMLResponse)
def issue_page(
    request: Request,
    session_id: Id,
    issue_key: Annotated[str, Form(min_length=8, max_length=64)],
    photo_id: PhotoIds,
) -> Response:
    """Issue claim codes for the chosen photos and show them once, for the counter hand-over.

    Each photo is issued under the Idempotency-Key `<page key>:<photo id>`: sending the same
    form again (a reload) issues nothing new and shows that the codes were already shown.
    """
    return _hand_over(request, session_id, photo_id, lambda p: f"{issue_key}:{p}", _issue_one)


Handler = Callable[[StudioService, int, int, str, str, str], dict[str, Any]]


def _hand_over(
    request: Request,
    session_id: int,
    photo_ids: list[int],
    key_of: Callable[[int], str],
    handle: Handler,
    **extra: Any,
) -> Response:
    """Run `handle` for each chosen photo of the studio's session; the hand-over page."""
    user = _page_user(request, Role.STUDIO)
    if isinstance(user, Response):
        return user
    service = _service(request)
    service.session_detail(user.id, session_id)  # 404 unless the session is this studio's
    lang, base = request_lang(request), _public_base(request)
    chosen = list(dict.fromkeys(photo_ids))[:MAX_ISSUE_PER_CLICK]
    results = [handle(service, user.id, p, key_of(p), base, lang) for p in chosen]
    return _render(
        request, "handover.html", no_store=True, session_id=session_id, results=results, **extra
    )


def _issue_one(
    service: StudioService, user_id: int, photo_id: int, key: str, base: str, lang: str
) -> dict[str, Any]:
    """One photo's issue result for the hand-over page: links, or why there is no code."""
    try:
        _status, answer = service.issue(user_id, photo_id, key, base)
    except BusanchainError as exc:
        return {"photo_id": photo_id, "error": exc.message(lang)}
    if not answer.get("claim_code_shown"):
        return {"photo_id": photo_id, "already_shown": True}
    url = str(answer["claim_url"])
    return {"photo_id": photo_id, "claim_url": url, **handover_links(url, lang)}


@pages.post("/studio/sessions/{session_id}/reissue", response_class=HTMLResponse)
def reissue_page(
    request: Request,
    session_id: Id,
    reissue_key: Annotated[str, Form(min_length=8, max_length=64)],
    photo_id: PhotoIds,
) -> Response:
    """Re-issue lost claim codes (one photo, or a customer's batch) and show the new ones once.

    Each photo goes through `StudioService.reissue` (old voucher cancelled on chain first)
    under the Idempotency-Key `<page key>:reissue:<photo id>`: a reload re-issues nothing
    and says the codes were already shown. The new codes are handed over like first ones.
    """
    return _hand_over(
        request,
        session_id,
        photo_id,
        lambda p: f"{reissue_key}:reissue:{p}",
        _reissue_one,
        reissued=True,
    )


def _reissue_one(
    service: StudioService, user_id: int, photo_id: int, key: str, base: str, lang: str
) -> dict[str, Any]:
    """One photo's re-issue result for the hand-over page: new links, pending, or why not."""
    try:
        status, answer = service.reissue(user_id, photo_id, key, base)
    except BusanchainError as exc:
        return {"photo_id": photo_id, "error": exc.message(lang)}
    if status == 202:
        return {"photo_id": photo_id, "pending": True}
    if status == 422:
        message = pick(
            lang,
            "이전 코드를 취소하지 못했습니다. 이전 코드는 아직 쓸 수 있습니다.",
            "The old code could not be cancelled; it still works.",
        )
        return {"photo_id": photo_id, "error": message}
    if not answer.get("claim_code_shown"):
        return {"photo_id": photo_id, "already_shown": True}
    url = str(answer["claim_url"])
    return {"photo_id": photo_id, "claim_url": url, **handover_links(url, lang)}


# -- customers ---------------------------------------------------------------------------------


@pages.get("/claim/{code}", response_class=HTMLResponse)
def claim_page(request: Request, code: ClaimCode) -> Response:
    """The customer's claim page (phone): studio, placeholder preview, log in, then claim."""
    user = optional_user(request)
    preview = _service(request).claim_preview(user.id if user else None, code)
    wallets: list[str] = []
    custodial = None
    if user is not None:
        view = account_service_for(request.app.state.context).account(user, user.id)
        custodial, wallets = view.custodial_address, list(view.linked_wallets)
    return _render(
        request,
        "claim.html",
        no_store=True,
        code=code.strip(),
        preview=preview,
        custodial=custodial,
        wallets=wallets,
        claim_key=secrets.token_hex(16),
    )


@pages.get("/me/photos", response_class=HTMLResponse)
def my_photos_page(request: Request) -> Response:
    """내 사진: the photos the user owns, publish toggles and original downloads."""
    user = _page_user(request, None)
    if isinstance(user, Response):
        return user
    return _render(request, "my_photos.html", photos=_service(request).my_photos(user.id))
