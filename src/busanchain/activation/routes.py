"""Activation API (`POST /api/activation`) and page (`/activate`).

No login is needed: the resident proves who they are with their resident registration number
and registered mobile number. Success sets the session cookie (like login) and, on the page,
goes to /wallet. A 429 carries a `Retry-After` header.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from busanchain.accounts import csrf
from busanchain.accounts.deps import client_address, session_token
from busanchain.accounts.sessions import CookieConfig, set_session_cookie
from busanchain.activation.schemas import FIELD_HINTS, ActivationIn, ActivationOut
from busanchain.activation.service import (
    ActivationRequest,
    ActivationResult,
    activation_service_for,
)
from busanchain.domain.errors import BusanchainError
from busanchain.http.errors import error_response
from busanchain.http.i18n import pick, request_lang
from busanchain.platform.context import PlatformContext

api = APIRouter(prefix="/api/activation", tags=["activation"])
pages = APIRouter(include_in_schema=False)

WALLET_URL = "/wallet"
_FORM_FIELDS = ("resident_number", "phone", "username", "password")


def _cookies(request: Request) -> CookieConfig:
    return request.app.state.session_cookies  # type: ignore[no-any-return]


def _retry_after(exc: BusanchainError) -> dict[str, str]:
    """The Retry-After header of a throttled answer (none for other errors)."""
    seconds = exc.details.get("retry_after_s")
    return {"Retry-After": str(seconds)} if exc.status == 429 and seconds else {}


def _activate(request: Request, body: ActivationIn) -> ActivationResult:
    service = activation_service_for(request.app.state.context)
    wanted = ActivationRequest(body.resident_number, body.phone, body.username, body.password)
    return service.activate(wanted, client_address(request), session_token(request))


# -- API ------------------------------------------------------------------------------------


@api.post(
    "",
    response_model=ActivationOut,
    responses={
        401: {"description": "Number and phone do not match (one answer for every mismatch)"},
        409: {"description": "Already activated, self-custody wallet, or username taken"},
        429: {"description": "Too many failures for this address or resident"},
    },
)
def activate(body: ActivationIn, request: Request, response: Response) -> Any:
    """Take over the citizen account made for an imported resident, and log in.

    The resident number and the registered mobile number must match the resident; then the
    account gets the new username and password and the session cookie is set.
    """
    try:
        result = _activate(request, body)
    except BusanchainError as exc:
        message = exc.message(request_lang(request))
        answer = error_response(request, exc.status, exc.code, message, exc.details)
        answer.headers.update(_retry_after(exc))
        return answer
    set_session_cookie(response, result.token, _cookies(request))
    return ActivationOut(
        username=result.username,
        wallet_address=result.wallet_address,
        csrf_token=csrf.session_token(_cookies(request).secret, result.token),
        next_url=WALLET_URL,
        replayed=result.replayed,
    )


# -- page -----------------------------------------------------------------------------------


def _render(
    request: Request, status: int = 200, headers: dict[str, str] | None = None, **values: Any
) -> HTMLResponse:
    templates = request.app.state.templates
    values.setdefault("values", {})
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "activation/activate.html", values, status_code=status, headers=headers
    )


def _form_errors(request: Request, exc: ValidationError) -> list[str]:
    """One Korean or English hint per field that failed (never the input itself)."""
    lang = request_lang(request)
    fields = dict.fromkeys(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
    return [pick(lang, *FIELD_HINTS[f]) for f in fields if f in FIELD_HINTS] or [
        pick(lang, "입력값이 올바르지 않습니다.", "The input is not valid.")
    ]


async def _form(request: Request) -> dict[str, str]:
    async with request.form() as form:
        return {k: v for k, v in form.items() if isinstance(v, str) and k != csrf.CSRF_FIELD}


@pages.get("/activate", response_class=HTMLResponse)
def activate_page(request: Request) -> HTMLResponse:
    """The activation form."""
    return _render(request)


@pages.post("/activate", response_class=HTMLResponse)
async def activate_submit(request: Request) -> Response:
    """Activate from the form; on success the resident is logged in and sees the wallet."""
    values = await _form(request)
    shown = {"username": values.get("username", "")[:32]}  # the number and phone are not echoed
    if values.get("password", "") != values.get("password_confirm", ""):
        mismatch = pick(
            request_lang(request),
            "비밀번호 확인이 일치하지 않습니다.",
            "The two passwords are not the same.",
        )
        return _render(request, 422, values=shown, errors=[mismatch])
    try:
        body = ActivationIn(**{k: values.get(k, "") for k in _FORM_FIELDS})
        result = await run_in_threadpool(_activate, request, body)
    except ValidationError as exc:
        return _render(request, 422, values=shown, errors=_form_errors(request, exc))
    except BusanchainError as exc:
        errors = [exc.message(request_lang(request))]
        return _render(request, exc.status, _retry_after(exc), values=shown, errors=errors)
    response = RedirectResponse(WALLET_URL, status_code=303)
    set_session_cookie(response, result.token, _cookies(request))
    return response


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add the activation API and page to the application."""
    app.include_router(api)
    app.include_router(pages)
