"""CSRF tokens.

* Logged-in (and half-logged-in) sessions use a synchronizer token derived from the session
  id: HMAC(server secret, session id). It changes whenever the session id rotates and needs
  no storage.
* Anonymous forms (login, sign-up) use a signed double-submit token: a random value and its
  HMAC, kept in a cookie and echoed in the form.

The check itself lives in the session middleware (`accounts.sessions`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def _mac(secret: bytes, purpose: bytes, value: str) -> str:
    digest = hmac.new(secret, purpose + b"\x00" + value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def session_token(secret: bytes, session_id: str) -> str:
    """The synchronizer token of a session (the raw cookie value never leaves the cookie)."""
    return _mac(secret, b"csrf-session", session_id)


def new_anonymous_token(secret: bytes) -> str:
    """A fresh signed double-submit token: `<random>.<hmac>`."""
    value = secrets.token_urlsafe(24)
    return f"{value}.{_mac(secret, b'csrf-anon', value)}"


def anonymous_token_valid(secret: bytes, token: str | None) -> bool:
    """True if `token` was made by `new_anonymous_token` with this secret."""
    if not token or len(token) > 200 or "." not in token:
        return False
    value, _, mac = token.partition(".")
    return hmac.compare_digest(mac, _mac(secret, b"csrf-anon", value))


def tokens_equal(expected: str, given: str | None) -> bool:
    """Constant-time comparison that treats a missing token as a mismatch."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
