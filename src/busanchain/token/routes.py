"""DigitalWon API: issue, transfer, operation status, balance.

POST endpoints move money: they require an `Idempotency-Key` header. The same key and body
replays the first answer; the same key with another body is refused with 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse

from busanchain.accounts.deps import current_user, require_roles
from busanchain.chain.signing import Signer
from busanchain.domain.addresses import parse_address
from busanchain.domain.errors import NotFound
from busanchain.domain.roles import Role
from busanchain.http.params import RowId
from busanchain.idempotency.service import request_fingerprint
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.token.schemas import BalanceOut, IssueRequest, OperationOut, TransferRequest
from busanchain.token.service import Enqueue, SubmitRequest, TokenService

router = APIRouter(prefix="/api/token", tags=["token"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
READ_ALL_ROLES = {Role.OFFICIAL, Role.AUDITOR, Role.ADMIN}


def _context(request: Request) -> PlatformContext:
    return request.app.state.context  # type: ignore[no-any-return]


def _service(request: Request) -> TokenService:
    return TokenService(_context(request))


def _submit(
    request: Request,
    key: str | None,
    body: dict[str, Any],
    owner: str,
    relayer: Signer,
    enqueue: Enqueue,
) -> JSONResponse:
    """Hand a money-moving request to the service, exactly once per Idempotency-Key."""
    status, answer = _service(request).submit_once(
        SubmitRequest(
            scope=f"{owner}:{request.method}:{request.url.path}",
            key=key,
            fingerprint=request_fingerprint(request.method, request.url.path, body),
            owner=owner,
            relayer=relayer,
        ),
        enqueue,
    )
    return JSONResponse(answer, status_code=status)


_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": OperationOut, "description": "Confirmed on chain"},
    422: {"description": "Invalid input, or the transaction reverted (reason given)"},
}


@router.post("/issuances", status_code=202, response_model=OperationOut, responses=_ANSWERS)
def issue(
    request: Request,
    payload: IssueRequest,
    idempotency_key: IdemKey = None,
    user: Any = Depends(require_roles(Role.OFFICIAL, Role.ADMIN)),
) -> JSONResponse:
    """Mint DigitalWon against a KRW deposit (officials and admins; the operator signs)."""
    operator = operator_signer(_context(request).settings)
    return _submit(
        request,
        idempotency_key,
        payload.model_dump(),
        f"user:{user.id}",
        operator,
        lambda svc, s: svc.enqueue_issue(
            s,
            issuer=operator,
            to=payload.to,
            amount=payload.amount,
            deposit_ref=payload.deposit_reference,
            owner=f"user:{user.id}",
        ),
    )


@router.post("/transfers", status_code=202, response_model=OperationOut, responses=_ANSWERS)
def transfer(
    request: Request,
    payload: TransferRequest,
    idempotency_key: IdemKey = None,
    user: Any = Depends(current_user),
) -> JSONResponse:
    """Send DigitalWon from the caller's custodial wallet; the platform pays the gas."""
    context = _context(request)
    relayer = operator_signer(context.settings)
    payer = key_service_for(context).signer_for_user(user.id)
    return _submit(
        request,
        idempotency_key,
        payload.model_dump(),
        f"user:{user.id}",
        relayer,
        lambda svc, s: svc.enqueue_transfer(
            s,
            relayer=relayer,
            payer=payer,
            to=payload.to,
            amount=payload.amount,
            owner=f"user:{user.id}",
        ),
    )


@router.get("/operations/{operation_id}", response_model=OperationOut)
def operation(operation_id: RowId, request: Request, user: Any = Depends(current_user)) -> Any:
    """Status of an operation: its owner and officials, auditors and admins may read it."""
    result = _service(request).operation(operation_id)
    may_read = result.owner == f"user:{user.id}" or bool(READ_ALL_ROLES & set(user.roles))
    if not may_read:
        raise NotFound("No such operation.", "해당 거래가 없습니다.")
    return result.as_dict()


@router.get("/balances/{address}", response_model=BalanceOut)
def balance(address: str, request: Request) -> BalanceOut:
    """The DigitalWon balance of any address (balances are public on chain)."""
    checked = parse_address(address)
    return BalanceOut(address=checked, balance=_service(request).balance_of(checked))


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add the token API to the application."""
    app.include_router(router)
