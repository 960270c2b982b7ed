"""Request body size limit, enforced before any handler reads the body."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1_000_000
# Photo uploads (multipart, several camera files): a larger cap on that one path only.
UPLOAD_MAX_BYTES = 64_000_000
UPLOAD_PATH = re.compile(r"^/api/studio/sessions/[0-9]+/photos$")


class BodyTooLarge(Exception):
    """Raised inside receive() when the body passes the limit."""


class BodySizeLimit:
    """Answer 413 to bodies larger than `max_bytes` (by header or by counting)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        limit = UPLOAD_MAX_BYTES if UPLOAD_PATH.match(scope.get("path", "")) else self.max_bytes
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reject(scope, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        lang = "en" if b"lang=en" in scope.get("query_string", b"") else "ko"
        message = "요청 본문이 너무 큽니다." if lang == "ko" else "The request body is too large."
        body = json.dumps(
            {"error": {"code": "http_413", "message": message, "details": {}}}, ensure_ascii=False
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
