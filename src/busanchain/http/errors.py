"""One place that maps errors to HTTP answers in the user's language.

API paths (/api/...) get JSON `{"error": {"code", "message", "details"}}`; pages get an
HTML error page. Unexpected exceptions are logged with their traceback and answered with a
generic 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from busanchain.domain.errors import BusanchainError
from busanchain.http.i18n import pick, request_lang

log = logging.getLogger(__name__)

_STATUS_TEXT = {
    400: ("잘못된 요청입니다.", "Bad request."),
    401: ("로그인이 필요합니다.", "Please log in."),
    403: ("권한이 없습니다.", "You do not have permission to do this."),
    404: ("찾을 수 없습니다.", "Not found."),
    405: ("허용되지 않는 메서드입니다.", "Method not allowed."),
    413: ("요청 본문이 너무 큽니다.", "The request body is too large."),
    415: ("지원하지 않는 형식입니다.", "Unsupported media type."),
    422: ("입력값이 올바르지 않습니다.", "The input is not valid."),
    429: ("요청이 너무 많습니다.", "Too many requests."),
    500: ("서버 오류가 발생했습니다.", "An internal error occurred."),
}


JSON_PREFIXES = ("/api", "/ipfs/")  # machine routes: the content gateway answers like the API


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIXES) or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(
    request: Request, status: int, code: str, message: str, details: Any = None
) -> Response:
    """Render an error as JSON for the API or as a page for a browser."""
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    if _wants_json(request) or not hasattr(request.app.state, "templates"):
        return JSONResponse(body, status_code=status)
    if status == 401 and request.method == "GET":
        return RedirectResponse("/login", status_code=303)  # a page: send the person to log in
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def _json_safe_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    safe = []
    for err in exc.errors():
        safe.append(
            {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))[:200]}
        )
    return safe[:20]


def install_error_handlers(app: FastAPI) -> None:
    """Register the exception handlers on an application."""

    @app.exception_handler(BusanchainError)
    async def _domain(request: Request, exc: BusanchainError) -> Response:
        lang = request_lang(request)
        return error_response(request, exc.status, exc.code, exc.message(lang), exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        lang = request_lang(request)
        ko, en = _STATUS_TEXT[422]
        return error_response(
            request,
            422,
            "validation_failed",
            pick(lang, ko, en),
            {"fields": _json_safe_errors(exc)},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        lang = request_lang(request)
        ko, en = _STATUS_TEXT.get(exc.status_code, _STATUS_TEXT[400])
        return error_response(
            request, exc.status_code, f"http_{exc.status_code}", pick(lang, ko, en)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        lang = request_lang(request)
        ko, en = _STATUS_TEXT[500]
        return error_response(request, 500, "internal_error", pick(lang, ko, en))
