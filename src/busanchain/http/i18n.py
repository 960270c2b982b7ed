"""Korean first, English second: language negotiation for pages and API errors."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SUPPORTED = ("ko", "en")
DEFAULT_LANG = "ko"


def negotiate(query_lang: str | None, cookie_lang: str | None, accept_language: str) -> str:
    """Pick the language: explicit ?lang=, then the cookie, then Accept-Language, then ko."""
    for candidate in (query_lang, cookie_lang):
        if candidate in SUPPORTED:
            return str(candidate)
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in SUPPORTED:
            return tag
    return DEFAULT_LANG


def request_lang(request: Request) -> str:
    """The language for this request (cached on request.state)."""
    cached = getattr(request.state, "lang", None)
    if cached:
        return str(cached)
    lang = negotiate(
        request.query_params.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("accept-language", ""),
    )
    request.state.lang = lang
    return lang


def pick(lang: str, ko: str, en: str) -> str:
    """Choose between a Korean and an English text."""
    return ko if lang == "ko" else en


class RememberLanguage:
    """ASGI middleware: a `?lang=` choice is remembered in a cookie for later pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = None
        if scope["type"] == "http":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            chosen = next((v for v in query.get("lang", []) if v in SUPPORTED), None)
        if chosen is None:
            await self.app(scope, receive, send)
            return

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"lang={chosen}; Path=/; Max-Age=31536000; SameSite=Lax"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, with_cookie)
