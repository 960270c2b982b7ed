"""HTTP routes of the merchants feature (API under /api/merchants, pages under /merchants).

Shops apply and see only their own data (`/me`); city officials are the registrar; anyone
may search active shops. Redemption moves money: it requires an `Idempotency-Key` header.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from busanchain.accounts.deps import optional_user, require_roles
from busanchain.accounts.service import User
from busanchain.domain.busan import categories, districts
from busanchain.domain.errors import NotFound, PermissionDenied, ValidationFailed
from busanchain.domain.roles import Role
from busanchain.http.i18n import request_lang
from busanchain.merchants.qr import (
    dynamic_payload,
    parse_qr_amount,
    parse_qr_payload,
    qr_svg,
    qr_svg_document,
    static_payload,
)
from busanchain.merchants.rules import BANKS, bank_name, business_day
from busanchain.merchants.schemas import (
    ApplyIn,
    DecisionIn,
    MerchantOut,
    MerchantPublicOut,
    QrPayloadOut,
    RedeemIn,
    SettlementOut,
    UpdateIn,
)
from busanchain.merchants.service import MerchantService, MerchantStatus, MerchantView
from busanchain.merchants.shop_edits import ShopEditService, category_and_district_names
from busanchain.platform.context import PlatformContext

api = APIRouter(prefix="/api/merchants", tags=["merchants"])
pages = APIRouter(include_in_schema=False)

MerchantId = Annotated[int, Path(ge=1, le=2_147_483_647)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Merchant = Annotated[User, Depends(require_roles(Role.MERCHANT))]
Registrar = Annotated[User, Depends(require_roles(Role.OFFICIAL))]
Reader = Annotated[User, Depends(require_roles(Role.OFFICIAL, Role.AUDITOR))]
ShortText = Annotated[str | None, Query(max_length=100)]
PUBLIC_STATUSES = (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)


def _service(request: Request) -> MerchantService:
    return MerchantService(request.app.state.context)


def _own(service: MerchantService, user: User) -> MerchantView:
    view = service.by_owner(user.id)
    if view is None:
        raise NotFound("You have not applied for a shop yet.", "아직 가게를 신청하지 않았습니다.")
    return view


def _optional_int(value: str | None, name: str) -> int | None:
    """An optional integer query parameter ('' counts as absent), else ValidationFailed."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 9:
        raise ValidationFailed(f"{name}: a number is expected.", f"{name}: 숫자를 입력하세요.")
    return int(text)


def _day(value: str | None) -> date:
    """A YYYY-MM-DD day (today in KST when absent)."""
    if value is None or not value.strip():
        return business_day()
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            "day: use the form YYYY-MM-DD.", "day: YYYY-MM-DD 형식으로 입력하세요."
        ) from None


def _report_csv(report: dict[str, Any]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "day",
            "merchant_code",
            "payments_count",
            "payments_gross",
            "refunds_count",
            "refunds_amount",
            "net",
            "redemptions_count",
            "redemptions_amount",
            "paid_count",
            "paid_amount",
            "awaiting_transfer_count",
            "awaiting_transfer_amount",
        ]
    )
    writer.writerow(
        [
            report["day"],
            report["merchant_code"],
            report["payments"]["count"],
            report["payments"]["gross"],
            report["refunds"]["count"],
            report["refunds"]["amount"],
            report["net"],
            report["redemptions"]["count"],
            report["redemptions"]["amount"],
            report["paid"]["count"],
            report["paid"]["amount"],
            report["awaiting_transfer"]["count"],
            report["awaiting_transfer"]["amount"],
        ]
    )
    filename = f"settlement-{report['merchant_code']}-{report['day']}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _report_response(report: dict[str, Any], fmt: str | None) -> Response:
    if fmt in (None, "", "json"):
        return JSONResponse(report)
    if fmt == "csv":
        return _report_csv(report)
    raise ValidationFailed("format: json or csv.", "format: json 또는 csv 입니다.")


# -- API: shops ------------------------------------------------------------------------------


@api.post("", status_code=201, response_model=MerchantOut)
def apply(request: Request, body: ApplyIn, user: Merchant) -> Any:
    """Apply as a shop (merchant role); a city official approves."""
    view = _service(request).apply(
        user.id,
        body.shop_name_ko,
        body.shop_name_en,
        body.business_number,
        body.mcc,
        body.district,
        body.street_address,
    )
    return view.owner_dict()


@api.post("/me/redemptions", status_code=202)
def redeem(
    request: Request, body: RedeemIn, user: Merchant, idempotency_key: IdemKey = None
) -> Any:
    """Redeem DigitalWon for KRW: burn on chain; the city then pays by bank transfer.

    200 burned (awaiting transfer), 202 pending (repeat with the same key to follow it),
    422 failed. An official records the transfer (`POST /api/merchants/settlements/{id}/paid`).
    """
    status, answer = _service(request).redeem(user.id, body.amount, idempotency_key)
    return JSONResponse(answer, status_code=status)


@api.get("/me/settlements", response_model=list[SettlementOut])
def my_settlements(request: Request, user: Merchant) -> Any:
    """The caller's latest redemptions."""
    service = _service(request)
    return service.settlements(_own(service, user).id)


@api.get("/me/report")
def my_report(
    request: Request,
    user: Merchant,
    day: ShortText = None,
    format: ShortText = None,  # noqa: A002 (the query parameter's public name)
) -> Response:
    """Daily settlement report for a KST business day (JSON, or CSV with format=csv)."""
    service = _service(request)
    report = service.daily_report(_own(service, user).id, _day(day))
    return _report_response(report, format)


@api.get("/me/qr.svg")
def my_qr(
    request: Request, user: Merchant, amount: ShortText = None, order: ShortText = None
) -> Response:
    """The shop's static QR code, or a 10-minute order code with amount and order id."""
    view = _own(_service(request), user)
    if not amount and not order:
        payload = static_payload(view.code)
    elif amount and order:
        payload = dynamic_payload(view.code, parse_qr_amount(amount), order)
    else:
        raise ValidationFailed(
            "Give both amount and order, or neither.", "금액과 주문번호를 함께 입력하세요."
        )
    return Response(
        qr_svg_document(payload), media_type="image/svg+xml", headers={"X-QR-Payload": payload}
    )


@api.get("/search", response_model=list[MerchantPublicOut])
def search(
    request: Request,
    district: ShortText = None,
    mcc: ShortText = None,
    program: ShortText = None,
    q: ShortText = None,
    page: Annotated[int, Query(ge=1, le=500)] = 1,
) -> Any:
    """Active shops by district, category, program rules and name (public)."""
    found = _service(request).search(
        district=_optional_int(district, "district"),
        mcc=_optional_int(mcc, "mcc"),
        program_id=_optional_int(program, "program"),
        query=q or None,
        page=page,
    )
    return [m.public_dict() for m in found]


@api.get("/qr/parse", response_model=QrPayloadOut)
def parse_qr(payload: Annotated[str, Query(max_length=300)]) -> Any:
    """Read a scanned QR payload (422 with a ko/en message if it is damaged or expired)."""
    return parse_qr_payload(payload)


# -- API: registrar ----------------------------------------------------------------------------


@api.get("/applications", response_model=list[MerchantOut])
def applications(request: Request, user: Reader, status: ShortText = None) -> Any:
    """Merchants by status (all when absent): officials and auditors."""
    return [v.owner_dict() for v in _service(request).applications(status or None)]


@api.post("/{merchant_id}/approve", response_model=MerchantOut)
def approve(request: Request, merchant_id: MerchantId, user: Registrar) -> Any:
    """Register the shop on chain (re-run to finish a pending registration)."""
    return _service(request).approve(merchant_id, user.id).owner_dict()


@api.post("/{merchant_id}/reject", response_model=MerchantOut)
def reject(
    request: Request, merchant_id: MerchantId, user: Registrar, body: DecisionIn | None = None
) -> Any:
    """Reject a waiting application."""
    note = body.note if body else None
    return _service(request).reject(merchant_id, user.id, note).owner_dict()


@api.post("/{merchant_id}/suspend", response_model=MerchantOut)
def suspend(
    request: Request, merchant_id: MerchantId, user: Registrar, body: DecisionIn | None = None
) -> Any:
    """Suspend an active shop on chain."""
    note = body.note if body else None
    return _service(request).suspend(merchant_id, user.id, note).owner_dict()


@api.post("/{merchant_id}/reactivate", response_model=MerchantOut)
def reactivate(
    request: Request, merchant_id: MerchantId, user: Registrar, body: DecisionIn | None = None
) -> Any:
    """Reactivate a suspended shop on chain."""
    note = body.note if body else None
    return _service(request).reactivate(merchant_id, user.id, note).owner_dict()


@api.patch("/{merchant_id}", response_model=MerchantOut)
def update(request: Request, merchant_id: MerchantId, body: UpdateIn, user: Registrar) -> Any:
    """Change a shop's details; a new category or district is written on chain."""
    return (
        _service(request)
        .update(
            merchant_id,
            user.id,
            mcc=body.mcc,
            district=body.district,
            shop_name_ko=body.shop_name_ko,
            shop_name_en=body.shop_name_en,
            street_address=body.street_address,
        )
        .owner_dict()
    )


@api.get("/{merchant_id}/report")
def report(
    request: Request,
    merchant_id: MerchantId,
    user: Reader,
    day: ShortText = None,
    format: ShortText = None,  # noqa: A002 (the query parameter's public name)
) -> Response:
    """A shop's daily settlement report, for officials and auditors."""
    return _report_response(_service(request).daily_report(merchant_id, _day(day)), format)


@api.get("/{code}", response_model=MerchantPublicOut)
def public_info(request: Request, code: Annotated[str, Path(max_length=20)]) -> Any:
    """A registered shop's public details by its code."""
    view = _service(request).by_code(code)
    if view.status not in PUBLIC_STATUSES:
        raise NotFound("No such shop.", "해당 가게가 없습니다.")
    return view.public_dict()


# -- pages ------------------------------------------------------------------------------------


STATUS_LABELS = {
    MerchantStatus.APPLIED: ("심사 대기", "Waiting for review"),
    MerchantStatus.REGISTERING: ("등록 중", "Registering"),
    MerchantStatus.ACTIVE: ("운영 중", "Active"),
    MerchantStatus.SUSPENDED: ("정지됨", "Suspended"),
    MerchantStatus.REJECTED: ("반려됨", "Rejected"),
}
SETTLEMENT_LABELS = {
    "pending": ("처리 중", "Pending"),
    "burned": ("이체 대기", "Awaiting transfer"),
    "paid": ("지급 완료", "Paid"),
    "failed": ("실패", "Failed"),
}
CHANGE_LABELS = {
    "pending": ("심사 중", "Waiting"),
    "approved": ("승인됨", "Approved"),
    "rejected": ("반려됨", "Rejected"),
}


def _labels(lang: str) -> dict[str, Any]:
    """Name lookups for templates, in the page's language."""

    def district_name(code: int) -> str:
        found = districts().get(code)
        return found.name(lang) if found else str(code)

    def category_name(mcc: int) -> str:
        found = categories().get(mcc)
        return found.name(lang) if found else str(mcc)

    def status_label(status: str) -> str:
        ko, en = STATUS_LABELS.get(status, (status, status))
        return en if lang == "en" else ko

    def change_label(state: str) -> str:
        ko, en = CHANGE_LABELS.get(state, (state, state))
        return en if lang == "en" else ko

    def settlement_label(state: str) -> str:
        ko, en = SETTLEMENT_LABELS.get(state, (state, state))
        return en if lang == "en" else ko

    return {
        "district_name": district_name,
        "category_name": category_name,
        "status_label": status_label,
        "settlement_label": settlement_label,
        "change_label": change_label,
        "bank_name": lambda code: bank_name(code, lang),
        "change_text": lambda mcc, district: category_and_district_names(mcc, district, lang),
        "districts": list(districts().values()),
        "categories": list(categories().values()),
    }


def _render(request: Request, name: str, **values: Any) -> HTMLResponse:
    templates = request.app.state.templates
    for key, value in _labels(request_lang(request)).items():
        values.setdefault(key, value)
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, f"merchants/{name}", values
    )


def _page_user(request: Request, role: Role) -> User | RedirectResponse:
    user = optional_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if role not in user.roles:
        if role in user.held_roles:
            raise PermissionDenied(
                "This role needs a session verified with your TOTP code.",
                "이 역할은 2단계 인증(OTP) 코드로 로그인한 세션에서만 쓸 수 있습니다.",
            )
        raise PermissionDenied
    return user


def _chart(series: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars (net per day) for a small inline SVG chart."""
    top = max([d["net"] for d in series] + [1])
    bars = []
    for i, day in enumerate(series):
        height = round(100 * max(day["net"], 0) / top)
        bars.append(
            {"x": 4 + i * 24, "y": 110 - height, "h": height, "day": day["day"], "net": day["net"]}
        )
    return {"bars": bars, "top": top}


@pages.get("/merchants/apply", response_class=HTMLResponse)
def apply_page(request: Request) -> Response:
    """The application form."""
    user = _page_user(request, Role.MERCHANT)
    if isinstance(user, Response):
        return user
    return _render(request, "apply.html", existing=_service(request).by_owner(user.id))


@pages.get("/merchants/me", response_class=HTMLResponse)
def me_page(request: Request, day: ShortText = None) -> Response:
    """The shop owner's page: status, QR codes, redemption, settlements and the report."""
    user = _page_user(request, Role.MERCHANT)
    if isinstance(user, Response):
        return user
    service = _service(request)
    view = service.by_owner(user.id)
    if view is None:
        return RedirectResponse("/merchants/apply", status_code=303)
    values: dict[str, Any] = {"view": view, "qr": qr_svg(static_payload(view.code))}
    values["static_payload"] = static_payload(view.code)
    edits = ShopEditService(request.app.state.context, service)
    values.update(
        bank_account=edits.own(user.id)["bank_account"],
        changes=edits.own_changes(user.id)[:5],
        banks=sorted(BANKS.items()),
    )
    if view.status in PUBLIC_STATUSES:
        chosen = _day(day)
        series = service.daily_series(view.id, chosen)
        values.update(
            balance=service.token_balance(view.id),
            settlements=service.settlements(view.id)[:20],
            report=series[-1],
            chart=_chart(series),
        )
    return _render(request, "me.html", **values)


@pages.get("/merchants/registrar", response_class=HTMLResponse)
def registrar_page(request: Request) -> Response:
    """Officials: applications to decide and registered shops to suspend or reactivate."""
    user = _page_user(request, Role.OFFICIAL)
    if isinstance(user, Response):
        return user
    service = _service(request)
    waiting = service.applications(MerchantStatus.APPLIED)
    waiting += service.applications(MerchantStatus.REGISTERING)
    registered = service.applications(MerchantStatus.ACTIVE)
    registered += service.applications(MerchantStatus.SUSPENDED)
    changes = ShopEditService(request.app.state.context, service).changes()
    return _render(
        request, "registrar.html", waiting=waiting, registered=registered, changes=changes
    )


@pages.get("/merchants/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    district: ShortText = None,
    mcc: ShortText = None,
    program: ShortText = None,
    q: ShortText = None,
) -> Response:
    """Public: where to spend, by district, category and program."""
    service = _service(request)
    error = None
    results: list[MerchantView] = []
    try:
        results = service.search(
            district=_optional_int(district, "district"),
            mcc=_optional_int(mcc, "mcc"),
            program_id=_optional_int(program, "program"),
            query=q or None,
        )
    except (ValidationFailed, NotFound) as exc:
        error = exc
    chosen = {"district": district or "", "mcc": mcc or "", "program": program or "", "q": q or ""}
    lang = request_lang(request)
    return _render(
        request,
        "search.html",
        results=results,
        programs=service.programs(),
        chosen=chosen,
        error=error.message(lang) if error else None,
    )


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add this feature's routes to the app (the specific routers before `/{code}`)."""
    from busanchain.merchants import payout_routes, shop_routes  # they use this module

    app.include_router(shop_routes.api)
    app.include_router(payout_routes.api)
    app.include_router(api)
    app.include_router(pages)
    app.include_router(payout_routes.pages)
