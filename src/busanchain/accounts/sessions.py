"""The session middleware: loads the user, hands out CSRF tokens and enforces them.

For every HTTP request it
* resolves the `bc_session` cookie (opaque random id; the database stores its SHA-256) into
  `request.state.user` (a `User`, or None), `request.state.session_token` and
  `request.state.pending_login` (password given, TOTP step still open);
* sets `request.state.csrf_token`: the session's synchronizer token, or for visitors
  without a session a signed double-submit token also kept in the `bc_csrf` cookie;
* refuses (403) an unsafe request (POST, PUT, PATCH, DELETE) whose token is missing or
  wrong. The token travels in the `X-CSRF-Token` header or, for HTML forms, in the
  `csrf_token` field. The one exception: a JSON request (Content-Type application/json)
  that carries no session cookie needs no token; it has no ambient authority and browsers
  cannot send it cross-site without a CORS preflight, which this server never grants.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from busanchain.accounts import csrf
from busanchain.accounts.service import AccountService, SessionState
from busanchain.config import Settings
from busanchain.http.errors import error_response
from busanchain.http.i18n import pick, request_lang
from busanchain.keys.secretfile import ensure_secret_file

SESSION_COOKIE = "bc_session"
ANON_CSRF_COOKIE = "bc_csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class CookieConfig:
    """Secret for CSRF tokens and cookie flags."""

    secret: bytes
    secure: bool
    max_age_s: int


def load_session_secret(settings: Settings) -> bytes:
    """settings.session_secret, else a random secret kept in `<data_dir>/secrets/session.key`.

    The file is created once with 0600 permissions, so every worker shares the secret.
    """
    if settings.session_secret:
        return hashlib.sha256(b"busanchain-session\x00" + settings.session_secret.encode()).digest()
    path = settings.data_dir / "secrets" / "session.key"
    ensure_secret_file(path, 32)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def set_session_cookie(response: Response, token: str, config: CookieConfig) -> None:
    """Put a session id into the HttpOnly, SameSite=Lax session cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=config.max_age_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=config.secure,
    )


def clear_session_cookie(response: Response, config: CookieConfig) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=config.secure
    )


def _cookie_headers(response: Response) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in response.raw_headers if k == b"set-cookie"]


class SessionMiddleware:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, accounts: AccountService, config: CookieConfig) -> None:
        self.app = app
        self.accounts = accounts
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        extra = Response()
        token = request.cookies.get(SESSION_COOKIE)
        state = await run_in_threadpool(self.accounts.resolve_session, token) if token else None
        if token and state is None:
            clear_session_cookie(extra, self.config)
        expected = self._expected_token(request, state, extra)
        store = scope.setdefault("state", {})
        store["user"] = state.user if state else None
        store["session_token"] = state.token if state else None
        store["pending_login"] = state is not None and state.user is None
        store["csrf_token"] = expected
        if scope["method"] in UNSAFE_METHODS:
            receive, ok = await self._check(request, receive, state is not None, expected)
            if not ok:
                await self._reject(request, receive, send)
                return
        await self.app(scope, receive, self._with_cookies(send, _cookie_headers(extra)))

    def _expected_token(self, request: Request, state: SessionState | None, extra: Response) -> str:
        if state is not None:
            return csrf.session_token(self.config.secret, state.token)
        anonymous = request.cookies.get(ANON_CSRF_COOKIE)
        if anonymous is None or not csrf.anonymous_token_valid(self.config.secret, anonymous):
            anonymous = csrf.new_anonymous_token(self.config.secret)
            extra.set_cookie(
                ANON_CSRF_COOKIE,
                anonymous,
                path="/",
                httponly=True,
                samesite="lax",
                secure=self.config.secure,
            )
        return anonymous

    async def _check(
        self, request: Request, receive: Receive, has_session: bool, expected: str
    ) -> tuple[Receive, bool]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        given = request.headers.get(csrf.CSRF_HEADER)
        is_json = content_type == "application/json" or content_type.endswith("+json")
        if given is None and not has_session and is_json:
            return receive, True
        if given is None and content_type in _FORM_TYPES:
            body = await _read_body(receive)
            given = await _form_token(request.scope, content_type, body)
            receive = _replay(body, receive)
        return receive, csrf.tokens_equal(expected, given)

    async def _reject(self, request: Request, receive: Receive, send: Send) -> None:
        lang = request_lang(request)
        message = pick(
            lang,
            "보안 토큰(CSRF)이 없거나 맞지 않습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
            "The security (CSRF) token is missing or wrong. Reload the page and try again.",
        )
        response = error_response(request, 403, "csrf_failed", message)
        await response(request.scope, receive, send)

    @staticmethod
    def _with_cookies(send: Send, cookies: list[tuple[bytes, bytes]]) -> Send:
        if not cookies:
            return send

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Ours first: a cookie the route sets (for example at login) comes later and wins.
                message = {**message, "headers": [*cookies, *message.get("headers", [])]}
            await send(message)

        return sender


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form_token(scope: Scope, content_type: str, body: bytes) -> str | None:
    if content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return next((v for k, v in pairs if k == csrf.CSRF_FIELD), None)
    form_request = Request(scope, _replay(body, _no_more))
    try:
        async with form_request.form() as form:
            value = form.get(csrf.CSRF_FIELD)
    except Exception:  # a malformed multipart body: no token, the request is refused
        return None
    return value if isinstance(value, str) else None


async def _no_more() -> Message:
    return {"type": "http.disconnect"}
