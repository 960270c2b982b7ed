"""Home page, health check and chain info."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from busanchain.platform.context import PlatformContext
from busanchain.system.service import chain_status

router = APIRouter()


def _context(request: Request) -> PlatformContext:
    return request.app.state.context  # type: ignore[no-any-return]


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request) -> Any:
    """The landing page."""
    status = chain_status(_context(request))
    return request.app.state.templates.TemplateResponse(
        request,
        "home.html",
        {
            "chain_id": status.chain_id,
            "block_number": status.block_number,
            "rpc_url": status.rpc_url,
        },
    )


@router.get("/api/health", tags=["system"])
def health(request: Request) -> dict[str, Any]:
    """Liveness and chain reachability."""
    status = chain_status(_context(request))
    return {
        "ok": status.reachable,
        "chain_id": status.chain_id,
        "block_number": status.block_number,
    }


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add the system routes to the application."""
    app.include_router(router)
