"""Application factory."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from busanchain import __version__
from busanchain.http.errors import install_error_handlers
from busanchain.http.i18n import RememberLanguage
from busanchain.http.limits import BodySizeLimit
from busanchain.http.templating import STATIC_DIR, make_templates
from busanchain.platform.context import PlatformContext

# Feature packages with a `routes` module exposing `register(app, context)`.
# Order matters for middleware: later registrations wrap earlier ones.
FEATURES = ("system", "token", "explorer", "accounts")

SRC = Path(__file__).resolve().parent.parent


def create_app(context: PlatformContext) -> FastAPI:
    """Build the web application for a platform context."""
    app = FastAPI(
        title="busanchain API",
        version=__version__,
        description=(
            "부산 지역 블록체인 플랫폼 API. Busan regional blockchain platform: explorer, "
            "accounts, DigitalWon issue and transfers.\n\n"
            "- Log in with `POST /api/accounts/login`; the session is an HttpOnly cookie.\n"
            "- Unsafe requests (POST, PATCH, DELETE) made with the session cookie must send "
            "the `X-CSRF-Token` header returned by login, sign-up and `GET /api/accounts/me`.\n"
            "- Requests that move money require an `Idempotency-Key` header (8-200 characters). "
            "The same key and body replays the first answer; the same key with another body "
            "gets 422 and has no effect.\n"
            '- Errors are `{"error": {"code", "message", "details"}}`, with the '
            "message in Korean or English (`?lang=en` or `Accept-Language`)."
        ),
    )
    app.state.context = context
    app.state.templates = make_templates(SRC / name / "templates" for name in FEATURES)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for name in FEATURES:
        module = importlib.import_module(f"busanchain.{name}.routes")
        module.register(app, context)
    app.add_middleware(RememberLanguage)
    app.add_middleware(BodySizeLimit)
    return app
