"""HTTP routes of the programs feature (API under /api/programs, pages under /programs).

Officials write; auditors (and admins) read everything. Requests that lock or move money
(create/publish a program, run a round, revoke a grant) need an `Idempotency-Key` header.
A round is committed (with its transactions) inside the request, then broadcast by a
background thread; `GET .../rounds/{round_id}` reports progress and resumes a round whose
thread died with a previous server process.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from busanchain.accounts.deps import require_roles
from busanchain.accounts.service import User
from busanchain.domain.busan import categories, districts
from busanchain.domain.errors import NotFound, ValidationFailed
from busanchain.domain.roles import Role
from busanchain.http.i18n import pick, request_lang
from busanchain.http.params import RowId
from busanchain.idempotency.service import IdempotencyService, parse_key, request_fingerprint
from busanchain.platform.context import PlatformContext
from busanchain.programs.disburse import WAIT_S, Disburser, RoundView
from busanchain.programs.grants import (
    GRANT_LABELS,
    NOT_REVOCABLE,
    STATE_FILTERS,
    GrantLine,
    GrantQuery,
    find_grants,
    follow_grant,
    grant_line,
    revoke_once,
)
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.rules import KIND_LABELS, KINDS
from busanchain.programs.schemas import ProgramIn, ProgramPatch, RoundIn
from busanchain.programs.service import ProgramService

log = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 1_000_000
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
official = require_roles(Role.OFFICIAL)
reader = require_roles(Role.OFFICIAL, Role.AUDITOR, Role.ADMIN)
_running: set[int] = set()
_running_guard = threading.Lock()


def _context(request: Request) -> PlatformContext:
    return request.app.state.context  # type: ignore[no-any-return]


def _scope(user: User, request: Request) -> str:
    return f"user:{user.id}:{request.method}:{request.url.path}"


def execute_in_background(context: PlatformContext, round_pk: int) -> None:
    """Broadcast and follow a committed round in a thread (once per round per process)."""
    with _running_guard:
        if round_pk in _running:
            return
        _running.add(round_pk)

    def work() -> None:
        try:
            Disburser(context).execute(round_pk)
        except Exception:  # kept for the next status poll to resume
            log.exception("round %s interrupted", round_pk)
        finally:
            with _running_guard:
                _running.discard(round_pk)

    threading.Thread(target=work, name=f"round-{round_pk}", daemon=True).start()


# -- grants: listing and revocation live in grants.py ------------------------------------

REVOKE_PAGE_WAIT_S = 1.0  # the page answers fast and then polls
GrantId = Annotated[int, Path(ge=1, le=2_147_483_647)]  # grants.id is INTEGER


# -- API -------------------------------------------------------------------------------------

api = APIRouter(prefix="/api/programs", tags=["programs"])


@api.post("", status_code=201)
def create_program(
    request: Request,
    payload: ProgramIn,
    idempotency_key: IdemKey = None,
    user: User = Depends(official),
) -> JSONResponse:
    """Create a program; unless `publish` is false its budget is minted and locked on chain."""
    body = payload.model_dump()
    publish = bool(body.pop("publish"))
    stored = ProgramService(_context(request)).create_once(
        _scope(user, request),
        parse_key(idempotency_key),
        request_fingerprint(request.method, request.url.path, payload.model_dump()),
        user.id,
        body,
        publish,
    )
    return JSONResponse(stored.body, status_code=stored.status_code)


@api.get("")
def list_programs(request: Request, _user: User = Depends(reader)) -> list[dict[str, Any]]:
    """Every program; live ones with their on-chain ledger."""
    return [v.as_dict() for v in ProgramService(_context(request)).list_with_ledgers()]


@api.get("/{program_id}")
def get_program(
    program_id: RowId, request: Request, _user: User = Depends(reader)
) -> dict[str, Any]:
    """A program with its on-chain ledger, rounds and recent imports."""
    context = _context(request)
    view = ProgramService(context).program_view(program_id).as_dict()
    view["rounds"] = [r.as_dict() for r in Disburser(context).rounds(program_id)]
    view["enrolled"] = ProgramService(context).enrolled_count(program_id)
    view["imports"] = ProgramService(context).imports(program_id)
    return view


@api.patch("/{program_id}")
def edit_program(
    program_id: RowId, request: Request, payload: ProgramPatch, _user: User = Depends(official)
) -> dict[str, Any]:
    """Edit names and ages (any rule while a draft); on-chain rules are fixed once live."""
    changes = payload.model_dump(exclude_unset=True)
    return ProgramService(_context(request)).edit(program_id, changes).as_dict()


@api.post("/{program_id}/publish")
def publish_program(
    program_id: RowId,
    request: Request,
    idempotency_key: IdemKey = None,
    user: User = Depends(official),
) -> dict[str, Any]:
    """Publish a draft: mint and lock its budget on chain."""
    return (
        ProgramService(_context(request))
        .publish_once(
            _scope(user, request),
            parse_key(idempotency_key),
            request_fingerprint(request.method, request.url.path, {}),
            program_id,
        )
        .as_dict()
    )


@api.post("/{program_id}/imports", status_code=201)
async def import_residents(
    program_id: RowId,
    request: Request,
    file: UploadFile = File(...),
    user: User = Depends(official),
) -> dict[str, Any]:
    """Import residents (CSV or XLSX). Any bad row: 422 with the per-row report, nothing kept."""
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            "The file is too large for the web form; use `busanchain programs import`.",
            "웹으로 올리기에는 파일이 너무 큽니다. `busanchain programs import`를 쓰세요.",
        )
    importer = ResidentImporter(_context(request))
    result = importer.import_file(program_id, file.filename or "upload", content, user.id)
    return result.as_dict()


@api.get("/{program_id}/imports/{import_id}")
def get_import(
    program_id: RowId, import_id: RowId, request: Request, _user: User = Depends(reader)
) -> dict[str, Any]:
    """One import and its per-row report."""
    return ProgramService(_context(request)).import_report(program_id, import_id)


@api.post("/{program_id}/rounds", status_code=202)
def start_round(
    program_id: RowId,
    request: Request,
    payload: RoundIn,
    idempotency_key: IdemKey = None,
    user: User = Depends(official),
) -> JSONResponse:
    """Disburse to everyone waiting: commit the round now, broadcast in the background."""
    context = _context(request)
    disburser = Disburser(context)
    key = parse_key(idempotency_key)
    fingerprint = request_fingerprint(request.method, request.url.path, payload.model_dump())

    def work(session: Session) -> tuple[int, dict[str, Any]]:
        record = disburser.prepare(session, program_id, user.id, payload.mode)
        return 202, RoundView.of(record).as_dict()

    with disburser.lock():
        stored = IdempotencyService(context).run(_scope(user, request), key, fingerprint, work)
    round_pk = int(stored.body["id"])
    execute_in_background(context, round_pk)
    return JSONResponse(disburser.view_by_pk(round_pk).as_dict(), status_code=202)


@api.get("/{program_id}/rounds/{round_id}")
def round_status(
    program_id: RowId, round_id: RowId, request: Request, _user: User = Depends(reader)
) -> dict[str, Any]:
    """A round's progress (`done` of `recipients`, `percent`, `state`)."""
    context = _context(request)
    view = Disburser(context).view(program_id, round_id)
    if view.state in ("posting", "granting"):
        execute_in_background(context, view.id)  # resumes a round left by a dead process
    return view.as_dict()


@api.post("/grants/{grant_id}/revoke")
def revoke_grant(
    grant_id: GrantId,
    request: Request,
    idempotency_key: IdemKey = None,
    user: User = Depends(official),
) -> JSONResponse:
    """Revoke a grant before it is claimed (Merkle) or spent (direct).

    200 revoked, 202 still pending, 422 claimed/spent/reverted, 409 already revoked.
    """
    status, answer = revoke_once(_context(request), user, grant_id, idempotency_key, WAIT_S)
    return JSONResponse(answer, status_code=status)


@api.get("/grants/{grant_id}")
def grant_status(
    grant_id: GrantId, request: Request, _user: User = Depends(reader)
) -> dict[str, Any]:
    """One grant and its state; a pending revocation is looked up on chain (pages poll this)."""
    return follow_grant(_context(request), grant_id).as_dict()


@api.get("/{program_id}/enrollments")
def enrollments(
    program_id: RowId,
    request: Request,
    user: User = Depends(reader),
    offset: int = Query(0, ge=0, le=10**9),
    limit: int = Query(50, ge=1, le=200),
) -> list[dict[str, Any]]:
    """Enrolled residents: masked names for officials (김*수), none for others."""
    show = Role.OFFICIAL in user.roles
    return ProgramService(_context(request)).enrollments(program_id, offset, limit, show)


# -- pages -----------------------------------------------------------------------------------

pages = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, **values: Any) -> Response:
    templates = request.app.state.templates
    values.update(
        kinds=KINDS,
        kind_labels=KIND_LABELS,
        all_districts=list(districts().values()),
        all_categories=list(categories().values()),
    )
    return templates.TemplateResponse(request, f"programs/{name}", values)  # type: ignore[no-any-return]


@pages.get("/programs", response_class=HTMLResponse)
def programs_page(request: Request, user: User = Depends(reader)) -> Response:
    """Programs with budget, locked and unspent."""
    views = ProgramService(_context(request)).list_with_ledgers()
    return _page(request, "list.html", programs=views, can_write=Role.OFFICIAL in user.roles)


@pages.get("/programs/new", response_class=HTMLResponse)
def new_program_page(request: Request, _user: User = Depends(official)) -> Response:
    """The form with every rule."""
    return _page(request, "new.html")


def _grant_query(request: Request, show_names: bool) -> GrantQuery:
    """The grant search from the page's query string; 422 for a bad district or state."""
    params = request.query_params
    name = params.get("gq", "").strip()[:20] if show_names else ""
    district_raw, state = params.get("gdistrict", "").strip(), params.get("gstate", "").strip()
    after_raw = params.get("gafter", "0").strip() or "0"
    if district_raw and (not district_raw.isdigit() or int(district_raw) not in districts()):
        raise ValidationFailed("Unknown district.", "알 수 없는 구·군입니다.", field="gdistrict")
    if state and state not in STATE_FILTERS:
        raise ValidationFailed(
            "Unknown grant state.", "알 수 없는 지급 상태입니다.", field="gstate"
        )
    if not after_raw.isdigit() or int(after_raw) >= 2**63:
        raise ValidationFailed(
            "Bad page cursor.", "페이지 위치가 올바르지 않습니다.", field="gafter"
        )
    district = int(district_raw) if district_raw else None
    return GrantQuery(name, district, state, int(after_raw))


def _followed_grant(context: PlatformContext, program_id: int, raw: str | None) -> GrantLine | None:
    """The grant named by `?grant=` (after a revoke form), if it belongs to this program."""
    if not raw or not raw.isdigit() or not 0 < int(raw) < 2**63:
        return None
    try:
        line = grant_line(context, int(raw), show_names=False)
    except NotFound:
        return None
    return line if line.program_id == program_id else None


def _grant_in_program(context: PlatformContext, program_id: int, grant_id: int) -> GrantLine:
    """The grant with its masked name; 404 unless it belongs to the program."""
    line = grant_line(context, grant_id, show_names=True)
    if line.program_id != program_id:
        raise NotFound(f"No grant {grant_id}.", f"지급 {grant_id}이(가) 없습니다.")
    return line


@pages.get("/programs/{program_id}", response_class=HTMLResponse)
def program_page(program_id: RowId, request: Request, user: User = Depends(reader)) -> Response:
    """Details, on-chain ledger, imports, rounds with live progress, enrollments, grants."""
    context = _context(request)
    service = ProgramService(context)
    view = service.program_view(program_id)
    is_official = Role.OFFICIAL in user.roles
    query = _grant_query(request, is_official)
    lang = request_lang(request)
    return _page(
        request,
        "detail.html",
        program=view,
        rounds=Disburser(context).rounds(program_id),
        imports=service.imports(program_id, 5),
        enrolled=service.enrolled_count(program_id),
        enrollments=service.enrollments(program_id, 0, 20, is_official),
        can_write=is_official,
        district_names={d.code: d for d in districts().values()},
        category_names=categories(),
        grants=find_grants(context, view, query, is_official),
        grant_query=query,
        grant_states=list(STATE_FILTERS),
        grant_labels={k: pick(lang, ko, en) for k, (ko, en) in GRANT_LABELS.items()},
        followed=_followed_grant(context, program_id, request.query_params.get("grant")),
    )


@pages.get("/programs/{program_id}/grants/{grant_id}/revoke", response_class=HTMLResponse)
def revoke_confirm_page(
    program_id: RowId, grant_id: GrantId, request: Request, _user: User = Depends(official)
) -> Response:
    """The confirmation step: the grant, what revoking does, and the form with a fresh key."""
    context = _context(request)
    line = _grant_in_program(context, program_id, grant_id)
    if line.status in NOT_REVOCABLE:
        raise ValidationFailed(*NOT_REVOCABLE[line.status], state=line.status)
    return _page(
        request,
        "revoke.html",
        program=ProgramService(context).get(program_id),
        grant=line,
        district_names={d.code: d for d in districts().values()},
        form_key=f"revoke-{grant_id}-{uuid.uuid4().hex}",
    )


@pages.post("/programs/{program_id}/grants/{grant_id}/revoke")
def revoke_form(
    program_id: RowId,
    grant_id: GrantId,
    request: Request,
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
    user: User = Depends(official),
) -> Response:
    """The confirmed form (CSRF-checked by the session middleware). Its Idempotency-Key was
    rendered into the form, so a double submit revokes once; the page then polls."""
    context = _context(request)
    _grant_in_program(context, program_id, grant_id)
    revoke_once(context, user, grant_id, idempotency_key, REVOKE_PAGE_WAIT_S)
    return RedirectResponse(f"/programs/{program_id}?grant={grant_id}#revoke-status", 303)


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add this feature's routes to the app."""
    app.include_router(api)
    app.include_router(pages)
