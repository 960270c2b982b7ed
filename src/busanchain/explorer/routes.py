"""Explorer pages (/explorer/...) and JSON API (/api/explorer/...)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from busanchain.domain.errors import BusanchainError
from busanchain.explorer.schemas import (
    AddressDetail,
    BlockDetail,
    BlockList,
    NftProvenance,
    NftSummary,
    Overview,
    SearchResult,
    TxDetail,
)
from busanchain.explorer.service import ExplorerService, explorer_service_for
from busanchain.http.i18n import request_lang
from busanchain.platform.context import PlatformContext

KST = timedelta(hours=9)
PAGE_LIMIT = 10**6
MAX_PAGE_EVENTS = 1000


def _kst(moment: datetime | None) -> str:
    """Seoul time, as Busan reads it."""
    return (moment + KST).strftime("%Y-%m-%d %H:%M:%S KST") if moment else "-"


def _link_maker(request: Request) -> Any:
    english = request_lang(request) == "en"

    def link(path: str, **params: object) -> str:
        query = [f"{key}={value}" for key, value in params.items() if value is not None]
        if english:
            query.append("lang=en")
        return path + ("?" + "&".join(query) if query else "")

    return link


def _page(request: Request, name: str, status: int = 200, **values: Any) -> Response:
    templates = request.app.state.templates
    values.update(link=_link_maker(request), kst=_kst)
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, f"explorer/{name}", values, status_code=status
    )


def page_router(service: ExplorerService) -> APIRouter:
    """The HTML pages."""
    router = APIRouter(include_in_schema=False)

    @router.get("/explorer", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        return _page(request, "overview.html", overview=service.overview())

    @router.get("/explorer/block/{ident}", response_class=HTMLResponse)
    def block(request: Request, ident: str) -> Response:
        return _page(request, "block.html", block=service.block(ident))

    @router.get("/explorer/tx/{tx_hash}", response_class=HTMLResponse)
    def transaction(request: Request, tx_hash: str) -> Response:
        return _page(request, "tx.html", tx=service.transaction(tx_hash))

    @router.get("/explorer/address/{address}", response_class=HTMLResponse)
    def address(
        request: Request,
        address: str,
        tx_page: int = Query(1, ge=1, le=PAGE_LIMIT),
        transfer_page: int = Query(1, ge=1, le=PAGE_LIMIT),
    ) -> Response:
        detail = service.address(address, tx_page=tx_page, transfer_page=transfer_page)
        return _page(request, "address.html", detail=detail)

    @router.get("/explorer/nft/{token_id}", response_class=HTMLResponse)
    def nft(request: Request, token_id: str) -> Response:
        summary = service.nft(token_id)
        history = service.provenance(summary.token_id, limit=MAX_PAGE_EVENTS)
        return _page(request, "nft.html", nft=summary, history=history)

    @router.get("/explorer/search", response_class=HTMLResponse)
    def search(request: Request, q: str = Query("", max_length=200)) -> Response:
        try:
            result = service.search(q)
        except BusanchainError as exc:
            message = exc.message(request_lang(request))
            return _page(request, "search.html", exc.status, q=q, message=message)
        return RedirectResponse(_link_maker(request)(result.page_url), status_code=303)

    return router


def api_router(service: ExplorerService) -> APIRouter:
    """The JSON API."""
    router = APIRouter(prefix="/api/explorer", tags=["explorer"])

    @router.get("/overview")
    def overview() -> Overview:
        """Latest blocks and transactions, and transactions per block for the last 30."""
        return service.overview()

    @router.get("/blocks")
    def blocks(
        limit: int = Query(20, ge=1, le=100),
        before: int | None = Query(None, ge=0, le=2**63 - 1),
    ) -> BlockList:
        """Blocks, newest first; page with `before=next_before`."""
        return service.blocks(limit, before)

    @router.get("/blocks/{ident}", responses={404: {}, 422: {}})
    def block(ident: str) -> BlockDetail:
        """A block by number or hash, with its transactions."""
        return service.block(ident)

    @router.get("/txs/{tx_hash}", responses={404: {}, 422: {}})
    def transaction(tx_hash: str) -> TxDetail:
        """A transaction with its decoded call, decoded events and revert reason."""
        return service.transaction(tx_hash)

    @router.get("/addresses/{address}", responses={422: {}})
    def address(
        address: str,
        tx_page: int = Query(1, ge=1, le=PAGE_LIMIT),
        transfer_page: int = Query(1, ge=1, le=PAGE_LIMIT),
        per_page: int = Query(25, ge=1, le=100),
    ) -> AddressDetail:
        """An address: live DigitalWon balance, transactions and DigitalWon transfers."""
        return service.address(address, tx_page, transfer_page, per_page)

    @router.get("/nfts/{token_id}", responses={404: {}, 422: {}})
    def nft(token_id: str) -> NftSummary:
        """A PhotoNFT from the index: current owner, studio, sales and royalties paid."""
        return service.nft(token_id)

    @router.get("/nfts/{token_id}/provenance", responses={404: {}, 422: {}})
    def provenance(
        token_id: str,
        limit: int = Query(200, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=PAGE_LIMIT),
    ) -> NftProvenance:
        """A PhotoNFT's history oldest first: claim, mint, transfers, sales (with royalty and
        fee), auctions, bids, publication and freezes, each with block, time and tx hash."""
        return service.provenance(token_id, limit, offset)

    @router.get("/search", responses={404: {}, 422: {}})
    def search(q: str = Query(..., max_length=200)) -> SearchResult:
        """Classify a query: block number, transaction or block hash, or address."""
        return service.search(q)

    return router


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add the explorer pages and API to the application."""
    service = explorer_service_for(context)
    app.include_router(page_router(service))
    app.include_router(api_router(service))
