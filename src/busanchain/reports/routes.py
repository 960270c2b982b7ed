"""Reports for officials and auditors: API under /api/reports, pages under /reports.

Officials and auditors read everything (dashboards, exports, alerts, the clawback report and
the conservation proof). Auditors are read-only: only officials may ask for an expired
program's backing to be withdrawn (POST, with an Idempotency-Key).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from busanchain.accounts.deps import optional_user, require_roles
from busanchain.accounts.service import User
from busanchain.domain.errors import BusanchainError
from busanchain.domain.roles import Role
from busanchain.http.i18n import pick, request_lang
from busanchain.idempotency.service import request_fingerprint
from busanchain.platform.context import PlatformContext
from busanchain.reports import charts
from busanchain.reports.alerts import AlertService
from busanchain.reports.clawback import ClawbackService, clawback_report
from busanchain.reports.conservation import ConservationProver
from busanchain.reports.exports import (
    Table,
    clawback_table,
    payments_table,
    programs_table,
    render,
)
from busanchain.reports.service import Dashboard, ReportService

READERS = (Role.OFFICIAL, Role.AUDITOR)
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
MAX_PROGRAM_ID = 2**31 - 1  # programs.id is a 32-bit integer column
ProgramFilter = Annotated[int | None, Query(ge=1, le=MAX_PROGRAM_ID)]
ProgramId = Annotated[int, Path(ge=1, le=MAX_PROGRAM_ID)]
Format = Annotated[str, Query(alias="format", max_length=8)]
PART_COLORS = {
    "spent": "#0b5cad",
    "unspent": "#4f9fe8",
    "unclaimed": "#f0a202",
    "unallocated": "#a7b1bd",
    "withdrawn": "#5b6470",
}

api = APIRouter(prefix="/api/reports", tags=["reports"])
pages = APIRouter(prefix="/reports", include_in_schema=False)
read_only = require_roles(*READERS)
official_only = require_roles(Role.OFFICIAL)


def _context(request: Request) -> PlatformContext:
    return request.app.state.context  # type: ignore[no-any-return]


# -- API ---------------------------------------------------------------------------------------


@api.get("/dashboard")
def dashboard(
    request: Request, program_id: ProgramFilter = None, user: User = Depends(read_only)
) -> dict[str, Any]:
    """Spending by category, district and day; unspent money; expiry forecast."""
    return ReportService(_context(request)).dashboard(program_id).as_dict()


@api.get("/programs/{program_id}")
def program_dashboard(
    request: Request, program_id: ProgramId, user: User = Depends(read_only)
) -> dict[str, Any]:
    """The dashboard of one program."""
    return ReportService(_context(request)).dashboard(program_id).as_dict()


@api.get("/programs/{program_id}/conservation")
def conservation(
    request: Request, program_id: ProgramId, user: User = Depends(read_only)
) -> dict[str, Any]:
    """On-chain conservation proof at the latest block, with the calls to reproduce it."""
    return ConservationProver(_context(request)).prove(program_id)


@api.get("/alerts")
def alerts(
    request: Request, program_id: ProgramFilter = None, user: User = Depends(read_only)
) -> dict[str, Any]:
    """Cash-out ("깡") alerts over the last 90 days of payments."""
    found = AlertService(_context(request)).alerts(program_id)
    return {"alerts": [a.as_dict() for a in found], "count": len(found)}


@api.get("/clawback")
def clawback(request: Request, user: User = Depends(read_only)) -> dict[str, Any]:
    """The expiry-clawback report: every program, what it held and what went back."""
    return {"programs": [r.as_dict() for r in clawback_report(_context(request))]}


@api.post("/programs/{program_id}/clawback")
def withdraw(
    request: Request,
    program_id: ProgramId,
    idempotency_key: IdemKey = None,
    user: User = Depends(official_only),
) -> JSONResponse:
    """Send an expired program's unspent backing to the treasury (officials; once)."""
    service = ClawbackService(_context(request))
    status, answer = service.submit_once(
        program_id,
        user.id,
        idempotency_key,
        scope=f"user:{user.id}:POST:{request.url.path}",
        fingerprint=request_fingerprint("POST", request.url.path, {"program_id": program_id}),
    )
    return JSONResponse(answer, status_code=status)


def _stream(table: Table, fmt: str, lang: str) -> StreamingResponse:
    media, filename, body = render(table, fmt, lang)
    disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{filename}"
    return StreamingResponse(body, media_type=media, headers={"Content-Disposition": disposition})


@api.get("/exports/payments")
def export_payments(
    request: Request,
    fmt: Format = "csv",
    program_id: ProgramFilter = None,
    user: User = Depends(read_only),
) -> StreamingResponse:
    """Payments as CSV or XLSX (payer addresses only, no personal data)."""
    lang = request_lang(request)
    return _stream(payments_table(_context(request), program_id, lang), fmt, lang)


@api.get("/exports/programs")
def export_programs(
    request: Request, fmt: Format = "csv", user: User = Depends(read_only)
) -> StreamingResponse:
    """Per-program summary as CSV or XLSX."""
    lang = request_lang(request)
    return _stream(programs_table(_context(request), lang), fmt, lang)


@api.get("/exports/clawback")
def export_clawback(
    request: Request, fmt: Format = "csv", user: User = Depends(read_only)
) -> StreamingResponse:
    """The expiry-clawback report as CSV or XLSX."""
    lang = request_lang(request)
    return _stream(clawback_table(_context(request), lang), fmt, lang)


# -- pages -------------------------------------------------------------------------------------


def _reader(request: Request) -> User | None:
    """The caller if they may read reports; None for visitors (who are sent to log in)."""
    user = optional_user(request)
    if user is None:
        return None
    if not user.roles & set(READERS):
        read_only(request)  # raises the right PermissionDenied (TOTP needed, or no role)
    return user


def _page(request: Request, name: str, **values: Any) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, f"reports/{name}", {"won": charts.money(request_lang(request)), **values}
    )


def _charts(board: Dashboard, lang: str) -> dict[str, Any]:
    """The dashboard's SVG charts in the reader's language."""
    en = lang == "en"
    t = lambda ko, en_: pick(lang, ko, en_)  # noqa: E731
    totals = board.totals
    fmt = charts.money(lang)
    status = [
        charts.Bar(t("사용", "Spent"), totals["spent"], PART_COLORS["spent"]),
        charts.Bar(t("미사용", "Unspent"), totals["unspent"], PART_COLORS["unspent"]),
        charts.Bar(t("미청구", "Unclaimed"), totals["unclaimed"], PART_COLORS["unclaimed"]),
        charts.Bar(t("미배정", "Unallocated"), totals["unallocated"], PART_COLORS["unallocated"]),
        charts.Bar(t("회수", "Withdrawn"), totals["withdrawn"], PART_COLORS["withdrawn"]),
    ]
    forecast = [
        charts.Bar(
            f"#{f.program_id} D-{f.days_left}", f.projected_clawback, PART_COLORS["unclaimed"]
        )
        for f in board.forecast
    ]
    return {
        "status": charts.stacked_bar(
            "money-status", t("예산 사용 현황", "Where the money is"), status, lang, fmt
        ),
        "category": charts.hbar_chart(
            "by-category",
            t("업종별 사용액", "Spending by category"),
            [charts.Bar(s.name_en if en else s.name_ko, s.amount) for s in board.by_category],
            lang,
            fmt,
        ),
        "district": charts.hbar_chart(
            "by-district",
            t("구·군별 사용액", "Spending by district"),
            [charts.Bar(s.name_en if en else s.name_ko, s.amount) for s in board.by_district],
            lang,
            fmt,
        ),
        "day": charts.line_chart(
            "by-day",
            t("일별 사용액 (최근 30일)", "Spending per day (last 30 days)"),
            [charts.Bar(p.day.strftime("%m-%d"), p.amount) for p in board.by_day],
            lang,
            fmt,
        ),
        "forecast": charts.bar_chart(
            "forecast",
            t("만료 예정 회수 예상액", "Projected clawback at expiry"),
            forecast,
            lang,
            fmt,
        ),
    }


def _login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@pages.get("")
def dashboard_page(request: Request) -> Response:
    """The dashboard of every program."""
    user = _reader(request)
    if user is None:
        return _login()
    board = ReportService(_context(request)).dashboard()
    lang = request_lang(request)
    return _page(request, "dashboard.html", board=board, charts=_charts(board, lang))


@pages.get("/programs/{program_id}")
def program_page(request: Request, program_id: ProgramId) -> Response:
    """One program: charts, conservation proof, exports and alerts."""
    user = _reader(request)
    if user is None:
        return _login()
    context = _context(request)
    board = ReportService(context).dashboard(program_id)
    proof: dict[str, Any] | None
    try:
        proof = ConservationProver(context).prove(program_id)
    except BusanchainError:  # not on chain (yet), or the node is down: show the database view
        proof = None
    return _page(
        request,
        "program.html",
        board=board,
        program=board.programs[0],
        charts=_charts(board, request_lang(request)),
        proof=proof,
        alerts=AlertService(context).alerts(program_id),
    )


@pages.get("/alerts")
def alerts_page(request: Request) -> Response:
    """Every cash-out alert."""
    user = _reader(request)
    if user is None:
        return _login()
    return _page(request, "alerts.html", alerts=AlertService(_context(request)).alerts())


@pages.get("/clawback")
def clawback_page(request: Request, done: int | None = None) -> Response:
    """The expiry-clawback report; officials can withdraw expired programs here."""
    user = _reader(request)
    if user is None:
        return _login()
    return _page(
        request,
        "clawback.html",
        rows=clawback_report(_context(request)),
        may_withdraw=Role.OFFICIAL in user.roles,
        form_key=uuid.uuid4().hex,
        done=done,
    )


@pages.post("/programs/{program_id}/clawback")
async def withdraw_form(request: Request, program_id: ProgramId) -> Response:
    """The clawback form (CSRF-checked by the session middleware; the form carries its own
    Idempotency-Key, so a double submit sends one transaction)."""
    user = await run_in_threadpool(official_only, request)
    async with request.form() as form:
        key = str(form.get("idempotency_key", ""))
    service = ClawbackService(_context(request))
    path = f"/api/reports/programs/{program_id}/clawback"  # one scope with the API
    await run_in_threadpool(
        service.submit_once,
        program_id,
        user.id,
        key,
        f"user:{user.id}:POST:{path}",
        request_fingerprint("POST", path, {"program_id": program_id}),
    )
    return RedirectResponse(f"/reports/clawback?done={program_id}", status_code=303)


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add the reports API and pages to the application."""
    app.include_router(api)
    app.include_router(pages)
