"""Korean first, English second: language negotiation for pages and API errors."""

from __future__ import annotations

from starlette.requests import Request

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
