"""HTTP routes for owners' own edits and the registrar's decisions on change requests.

Included before the feature's main router, so `/me` and `/change-requests` are matched
before the `/{merchant_id}` and `/{code}` routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from busanchain.merchants.routes import Merchant, Reader, Registrar, ShortText
from busanchain.merchants.schemas import (
    ChangeRequestIn,
    ChangeRequestOut,
    DecisionIn,
    MerchantSelfOut,
    ShopEditIn,
)
from busanchain.merchants.shop_edits import ShopEditService

api = APIRouter(prefix="/api/merchants", tags=["merchants"])
RequestId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _edits(request: Request) -> ShopEditService:
    return ShopEditService(request.app.state.context)


@api.get("/me", response_model=MerchantSelfOut)
def me(request: Request, user: Merchant) -> Any:
    """The caller's shop, with its settlement account masked."""
    return _edits(request).own(user.id)


@api.patch("/me", response_model=MerchantSelfOut)
def edit_me(request: Request, body: ShopEditIn, user: Merchant) -> Any:
    """Change the caller's shop names, address, phone or settlement account.

    Only the fields sent change; category and district need a change request (422 here).
    """
    return _edits(request).edit_own(user.id, body.model_dump(exclude_unset=True))


@api.post("/me/change-requests", status_code=201, response_model=ChangeRequestOut)
def request_change(request: Request, body: ChangeRequestIn, user: Merchant) -> Any:
    """Ask the registrar for a new category and/or district (written on chain if approved)."""
    return _edits(request).request_change(user.id, body.mcc, body.district, body.reason)


@api.get("/me/change-requests", response_model=list[ChangeRequestOut])
def my_changes(request: Request, user: Merchant) -> Any:
    """The caller's change requests, newest first."""
    return _edits(request).own_changes(user.id)


@api.get("/change-requests", response_model=list[ChangeRequestOut])
def changes(request: Request, user: Reader, state: ShortText = "pending") -> Any:
    """Change requests by state (pending by default; "all" for every one)."""
    chosen = None if state == "all" else (state or "pending")
    return _edits(request).changes(chosen)


@api.post("/change-requests/{request_id}/approve", response_model=ChangeRequestOut)
def approve_change(request: Request, request_id: RequestId, user: Registrar) -> Any:
    """Approve: the new category/district is written to the registry on chain."""
    return _edits(request).approve_change(request_id, user.id)


@api.post("/change-requests/{request_id}/reject", response_model=ChangeRequestOut)
def reject_change(
    request: Request, request_id: RequestId, user: Registrar, body: DecisionIn | None = None
) -> Any:
    """Reject a change request (nothing changes)."""
    return _edits(request).reject_change(request_id, user.id, body.note if body else None)
