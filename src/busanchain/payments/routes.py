"""HTTP routes of the payments feature (API under /api/payments, pages under /payments).

POSTs that move money require an `Idempotency-Key` header: the same key and body replays the
first answer; the same key with another body is refused with 422.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from busanchain.accounts.deps import current_user, optional_user, require_roles
from busanchain.domain.errors import NotFound
from busanchain.domain.roles import Role
from busanchain.http.i18n import request_lang
from busanchain.http.params import RowId
from busanchain.payments.refunds import RefundService
from busanchain.payments.schemas import PayIn, RefundIn, SignedPayIn
from busanchain.payments.service import PaymentService, PayRequest, SignedPayRequest
from busanchain.platform.context import PlatformContext

api = APIRouter(prefix="/api/payments", tags=["payments"])
pages = APIRouter(include_in_schema=False)
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Wait = Annotated[float, Query(ge=0, le=10, description="Seconds to wait for confirmation")]
JSQR = Path("jsqr") / "dist" / "jsQR.js"


def _context(request: Request) -> PlatformContext:
    return request.app.state.context  # type: ignore[no-any-return]


def _payments(request: Request) -> PaymentService:
    service = getattr(request.app.state, "payment_service", None)
    if service is None:
        service = PaymentService(_context(request))
        request.app.state.payment_service = service
    return service  # type: ignore[no-any-return]


@api.post("", status_code=202)
def pay(
    request: Request,
    payload: PayIn,
    idempotency_key: IdemKey = None,
    wait: Wait = 5.0,
    user: Any = Depends(require_roles(Role.CITIZEN)),
) -> JSONResponse:
    """Pay a merchant from the caller's vouchers; 202 pending or 200 with the receipt."""
    body = PayRequest(payload.program_id, payload.merchant_code, payload.amount, payload.order_id)
    status, answer = _payments(request).pay(user.id, body, idempotency_key, wait)
    return JSONResponse(answer, status_code=status)


@api.post("/signed", status_code=202)
def pay_signed(
    request: Request,
    payload: SignedPayIn,
    idempotency_key: IdemKey = None,
    wait: Wait = 5.0,
    user: Any = Depends(require_roles(Role.CITIZEN)),
) -> JSONResponse:
    """Relay a payment signed by the caller's own wallet (EIP-712), checked before accepting."""
    body = SignedPayRequest(
        program_id=payload.program_id,
        merchant_code=payload.merchant_code,
        amount=payload.amount,
        payer=payload.payer,
        nonce=payload.nonce,
        deadline=payload.deadline,
        signature=payload.signature,
        order_id=payload.order_id,
    )
    status, answer = _payments(request).pay_signed(user.id, body, idempotency_key, wait)
    return JSONResponse(answer, status_code=status)


@api.get("/mine")
def mine(
    request: Request,
    program: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    user: Any = Depends(current_user),
) -> dict[str, Any]:
    """The caller's payments, newest first."""
    lang = request_lang(request)
    return {"payments": _payments(request).mine(user.id, program, lang)}


@api.get("/merchant")
def merchant(
    request: Request,
    since_id: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    user: Any = Depends(require_roles(Role.MERCHANT)),
) -> dict[str, Any]:
    """Payments to the caller's shops with an id above `since_id` (for live polling)."""
    return _payments(request).incoming(user.id, since_id, request_lang(request))


@api.get("/wallet")
def wallet(request: Request, user: Any = Depends(current_user)) -> dict[str, Any]:
    """Per program: balance on chain plus open claims, expiry countdown, spent and refunded."""
    return _payments(request).wallet(user.id, request_lang(request))


@api.get("/merchants/{code}")
def merchant_card(code: str, request: Request, user: Any = Depends(current_user)) -> dict[str, Any]:
    """A shop by its code, as shown on the confirm screen (active shops only)."""
    return _payments(request).merchant_card(code[:12], request_lang(request))


@api.get("/{payment_id}")
def receipt(
    payment_id: RowId,
    request: Request,
    user: Any = Depends(current_user),
) -> dict[str, Any]:
    """A payment: its payer, its merchant's owner, officials, auditors and admins may read it."""
    if not 0 < payment_id < 2**63:
        raise NotFound("No such payment.", "해당 결제가 없습니다.")
    return _payments(request).receipt(payment_id, user, request_lang(request))


@api.post("/{payment_id}/refunds", status_code=202)
def refund(
    payment_id: RowId,
    request: Request,
    payload: RefundIn,
    idempotency_key: IdemKey = None,
    user: Any = Depends(require_roles(Role.MERCHANT)),
) -> JSONResponse:
    """The merchant paid returns (part of) a confirmed payment, before the program expires."""
    if not 0 < payment_id < 2**63:
        raise NotFound("No such payment.", "해당 결제가 없습니다.")
    service = RefundService(_context(request))
    status, answer = service.refund(user.id, payment_id, payload.amount, idempotency_key)
    return JSONResponse(answer, status_code=status)


# -- pages ------------------------------------------------------------------------------------


def _render(request: Request, name: str, **values: Any) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, f"payments/{name}", values
    )


def _login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@pages.get("/wallet", response_class=HTMLResponse)
def wallet_page(request: Request) -> Response:
    """The citizen's balances per program with expiry countdowns and recent history."""
    user = optional_user(request)
    if user is None:
        return _login()
    service = _payments(request)
    lang = request_lang(request)
    return _render(
        request,
        "wallet.html",
        wallet=service.wallet(user.id, lang),
        history=service.mine(user.id, None, lang, limit=20),
    )


@pages.get("/pay", response_class=HTMLResponse)
def pay_page(request: Request) -> Response:
    """Pay: scan a shop's QR code or type its code, choose program and amount, confirm."""
    user = optional_user(request)
    if user is None:
        return _login()
    wallet = _payments(request).wallet(user.id, request_lang(request))
    return _render(request, "pay.html", wallet=wallet)


@pages.get("/payments/incoming", response_class=HTMLResponse)
def incoming_page(request: Request) -> Response:
    """The merchant's live incoming payments, with refunds."""
    user = optional_user(request)
    if user is None:
        return _login()
    return _render(request, "incoming.html")


@pages.get("/payments/static/jsQR.js")
def jsqr(request: Request) -> FileResponse:
    """The QR decoder used when the browser has no BarcodeDetector (served locally, no CDN)."""
    path = _context(request).settings.node_modules / JSQR
    if not path.is_file():
        raise NotFound("jsQR is not installed.", "jsQR이 설치되지 않았습니다.")
    return FileResponse(path, media_type="text/javascript")


@pages.get("/payments/{payment_id}", response_class=HTMLResponse)
def receipt_page(payment_id: RowId, request: Request) -> Response:
    """A payment receipt; polls until the payment is confirmed on chain."""
    user = optional_user(request)
    if user is None:
        return _login()
    if not 0 < payment_id < 2**63:
        raise NotFound("No such payment.", "해당 결제가 없습니다.")
    view = _payments(request).receipt(payment_id, user, request_lang(request))
    return _render(request, "receipt.html", payment=view)


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add the payments API and pages to the app."""
    app.include_router(api)
    app.include_router(pages)
