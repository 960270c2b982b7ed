"""HTTP routes for the KRW side of settlements: officials record bank transfers.

Officials list the burned settlements awaiting transfer, download them as a transfer file
and mark each paid with the bank's reference (an Idempotency-Key is required). Auditors
see the same lists read-only, with account numbers masked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from busanchain.accounts.deps import optional_user
from busanchain.domain.errors import PermissionDenied
from busanchain.domain.roles import Role
from busanchain.merchants.payouts import AWAITING, PAID, PayoutService
from busanchain.merchants.routes import IdemKey, Reader, Registrar, ShortText, _render
from busanchain.merchants.rules import business_day
from busanchain.merchants.schemas import PaidIn, PayoutOut, SettlementOut

api = APIRouter(prefix="/api/merchants/settlements", tags=["merchants"])
pages = APIRouter(include_in_schema=False)
SettlementId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _payouts(request: Request) -> PayoutService:
    return PayoutService(request.app.state.context)


@api.get("", response_model=list[PayoutOut])
def listing(request: Request, user: Reader, state: ShortText = None) -> Any:
    """Settlements awaiting transfer (state=burned, default, oldest first) or paid."""
    return [line.as_dict() for line in _payouts(request).lines(state or None)]


@api.get("/transfer.csv")
def transfer_file(request: Request, user: Reader) -> Response:
    """The awaiting list as a bank transfer file (CSV); auditors get masked accounts."""
    text = _payouts(request).transfer_file(full_account=Role.OFFICIAL in user.roles)
    filename = f"busanchain-transfers-{business_day():%Y%m%d}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@api.post("/{settlement_id}/paid", response_model=SettlementOut)
def mark_paid(
    request: Request,
    settlement_id: SettlementId,
    body: PaidIn,
    user: Registrar,
    idempotency_key: IdemKey = None,
) -> Any:
    """Record the KRW bank transfer of a burned settlement (officials; Idempotency-Key).

    The same key replays the first answer; a different reference on a paid settlement is 409.
    """
    status, answer = _payouts(request).mark_paid(
        settlement_id, user.id, body.bank_reference, idempotency_key
    )
    return JSONResponse(answer, status_code=status)


@pages.get("/merchants/settlements", response_class=HTMLResponse)
def settlements_page(request: Request) -> Response:
    """Officials: burned settlements awaiting transfer, mark paid; auditors read-only."""
    user = optional_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if Role.OFFICIAL not in user.roles and Role.AUDITOR not in user.roles:
        raise PermissionDenied
    service = _payouts(request)
    awaiting = service.lines(AWAITING)
    paid = service.lines(PAID)[:50]
    return _render(
        request,
        "settlements.html",
        awaiting=[line.as_dict() for line in awaiting],
        paid=[line.as_dict() for line in paid],
        can_pay=Role.OFFICIAL in user.roles,
        awaiting_total=sum(line.settlement["amount"] for line in awaiting),
    )
