"""Application factory."""

from __future__ import annotations

import importlib
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from busanchain import __version__
from busanchain.http.errors import install_error_handlers
from busanchain.http.i18n import RememberLanguage
from busanchain.http.limits import BodySizeLimit
from busanchain.http.routing import gate_routers
from busanchain.http.templating import STATIC_DIR, make_templates
from busanchain.platform.context import PlatformContext

# Feature packages with a `routes` module exposing `register(app, context)`.
# Order matters for middleware: later registrations wrap earlier ones.
FEATURES = (
    "system",
    "token",
    "explorer",
    "accounts",
    "merchants",
    "programs",
    "payments",
    "reports",
    "activation",
    "studio",
    "gallery",
)

SRC = Path(__file__).resolve().parent.parent
APIDOCS_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"


def _serve_api_docs(app: FastAPI) -> None:
    """Swagger UI from packaged assets: the platform must work with no CDN.

    ReDoc is not offered: its bundle fetches a logo from its own CDN.
    """
    app.mount("/static/apidocs", StaticFiles(directory=APIDOCS_ASSETS), name="apidocs")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="busanchain API",
            swagger_js_url="/static/apidocs/swagger-ui-bundle.js",
            swagger_css_url="/static/apidocs/swagger-ui.css",
            swagger_favicon_url="/static/apidocs/favicon.png",
        )


def create_app(context: PlatformContext) -> FastAPI:
    """Build the web application for a platform context."""
    app = FastAPI(
        docs_url=None,
        redoc_url=None,
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
    _serve_api_docs(app)  # before /static: the first matching mount wins
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for name in FEATURES:
        module = importlib.import_module(f"busanchain.{name}.routes")
        module.register(app, context)
    gate_routers(app)  # after every feature's routes: each request walks only its own
    app.add_middleware(RememberLanguage)
    app.add_middleware(BodySizeLimit)
    return app
