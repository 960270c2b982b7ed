"""`busanchain studio ...`: bulk import of a folder of photos, and studio approval.

`import` uploads every JPEG, PNG, WebP and HEIC file of a folder through `StudioService`
(the same pipeline and checks as the web upload, one file per request, so one bad file
refuses only itself), with a progress bar, a line per file and a summary table. With
`--issue` every stored photo also gets a claim voucher; the claim codes are written to a CSV
file created with mode 0600, one row (and one fsync) per code as it is issued. Claim codes
are bearer secrets: whoever holds one can claim the photo, and the platform cannot show
them again.

The exit code is 0 when every photo was stored (and issued), 1 when any file was refused,
and 2 when the import could not start (unknown studio, inactive studio, bad session code).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from busanchain.config import Settings
from busanchain.domain.errors import BusanchainError, NotFound, ValidationFailed
from busanchain.platform.context import PlatformContext

app = typer.Typer(help="사진관 / Photo studios: bulk import, approval.", no_args_is_help=True)
console = Console(stderr=True)
T = TypeVar("T")

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"})
CSV_HEADER = ("file", "photo_id", "claim_code", "claim_url")


@dataclass
class FileResult:
    """What happened to one file of the folder."""

    name: str
    photo_id: int | None = None
    claim_url: str | None = None
    reason_ko: str | None = None
    reason_en: str | None = None

    @property
    def ok(self) -> bool:
        """True if the photo was stored (and issued, when asked)."""
        return self.reason_en is None


@dataclass(frozen=True)
class ImportTarget:
    """Where the photos go: the studio owner's user id and the session."""

    owner_id: int
    session_id: int
    session_code: str


@contextmanager
def _context() -> Iterator[PlatformContext]:
    context = PlatformContext.create(Settings.from_env())
    try:
        yield context
    finally:
        context.close()


def _fail(exc: BusanchainError) -> None:
    console.print(f"[red]오류 / error:[/red] {exc.message_ko}\n  {exc.message_en}")
    raise typer.Exit(code=2)


def _run(work: Callable[[PlatformContext], T]) -> T:
    """Run `work` with a context; print BusanchainErrors in both languages and exit 2."""
    try:
        with _context() as context:
            return work(context)
    except BusanchainError as exc:
        _fail(exc)
        raise  # unreachable: _fail exits


def photo_files(folder: Path) -> list[Path]:
    """The folder's photo files by name (not recursive; hidden files are left out)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in PHOTO_SUFFIXES
    )


def _user_id(context: PlatformContext, username: str) -> int:
    from busanchain.accounts import repository as accounts_repository

    with context.unit_of_work() as session:
        record = accounts_repository.user_by_login(session, username.strip().lower())
        if record is None:
            raise NotFound("No account with this username.", "해당 아이디의 계정이 없습니다.")
        return record.id


def _photographer_id(service: Any, owner_id: int, name: str | None) -> int | None:
    """The studio's photographer called `name`, added (default royalty) if missing."""
    if not name:
        return None
    for row in service.photographers(owner_id):
        if row["name"] == name.strip():
            return int(row["id"])
    added = service.add_photographer(owner_id, name)
    console.print(f"사진가 추가 / photographer added: {added['name']} (id {added['id']})")
    return int(added["id"])


def resolve_target(
    context: PlatformContext, username: str, code: str | None, photographer: str | None
) -> ImportTarget:
    """The owner and the session (the one with `code`, else a new one), checked up front."""
    from busanchain.studio.service import StudioService

    service = StudioService(context)
    owner_id = _user_id(context, username)
    service.my_studio(owner_id)  # NotFound if the user has no studio
    photographer_id = _photographer_id(service, owner_id, photographer)
    wanted = code or datetime.now(UTC).strftime("IMPORT-%Y%m%d-%H%M%S")
    for row in service.sessions(owner_id):
        if row["code"] == wanted:
            if photographer_id is not None and row["photographer_id"] != photographer_id:
                raise ValidationFailed(
                    "This session already has another photographer.",
                    "이 촬영에는 이미 다른 사진가가 지정되어 있습니다.",
                    field="photographer",
                )
            return ImportTarget(owner_id, int(row["id"]), wanted)
    created = service.create_session(owner_id, wanted, photographer_id)
    return ImportTarget(owner_id, int(created["id"]), wanted)


def _open_codes_file(path: Path) -> IO[str]:
    """Create the claim-code CSV with mode 0600 (refusing to overwrite) and write its header."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValidationFailed(
            f"{path} exists; choose another --codes file.",
            f"{path} 파일이 이미 있습니다. 다른 --codes 파일을 지정하세요.",
            field="codes",
        ) from None
    os.fchmod(descriptor, 0o600)
    out = os.fdopen(descriptor, "w", encoding="utf-8", newline="")
    csv.writer(out).writerow(CSV_HEADER)
    return out


def import_one(
    service: Any, target: ImportTarget, path: Path, codes: IO[str] | None, base_url: str
) -> FileResult:
    """Upload one file (and issue it when `codes` is given); refusals become the result."""
    from busanchain.studio.service import Upload

    result = FileResult(path.name)
    try:
        stored = service.upload(
            target.owner_id, target.session_id, [Upload(path.name, path.read_bytes())]
        )
        result.photo_id = int(stored[0]["id"])
        if codes is not None:
            key = f"cli-issue-{target.session_code}-{result.photo_id}"
            _, answer = service.issue(target.owner_id, result.photo_id, key, base_url)
            result.claim_url = str(answer["claim_url"])
            row = (path.name, result.photo_id, answer["claim_code"], result.claim_url)
            csv.writer(codes).writerow(row)
            codes.flush()
            os.fsync(codes.fileno())
    except BusanchainError as exc:
        result.reason_ko, result.reason_en = exc.message_ko, exc.message_en
    except OSError as exc:
        result.reason_ko = f"파일을 읽을 수 없습니다: {exc.strerror}"
        result.reason_en = f"The file could not be read: {exc.strerror}"
    return result


def run_import(
    context: PlatformContext, target: ImportTarget, files: list[Path], codes: IO[str] | None
) -> list[FileResult]:
    """Import the files one by one with a progress bar and a line per file."""
    from busanchain.studio.service import StudioService

    service = StudioService(context)
    results: list[FileResult] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("가져오는 중 / importing", total=len(files))
        for path in files:
            progress.update(task, description=f"가져오는 중 / importing {path.name}")
            result = import_one(service, target, path, codes, context.settings.web_url)
            results.append(result)
            progress.console.print(_result_line(result))
            progress.advance(task)
    return results


def _result_line(result: FileResult) -> str:
    if result.ok:
        issued = " (수령 코드 발급 / claim code issued)" if result.claim_url else ""
        return f"[green]✓[/green] {result.name}: photo {result.photo_id}{issued}"
    return f"[red]✗[/red] {result.name}: {result.reason_ko} / {result.reason_en}"


def summary_table(results: list[FileResult]) -> Table:
    """Every file with its outcome, then the totals in the caption."""
    table = Table(title="가져오기 결과 / import summary")
    for column in ("파일 / file", "사진 / photo", "결과 / result"):
        table.add_column(column)
    for r in results:
        outcome = "저장 / stored" if r.ok else f"거부 / refused: {r.reason_ko} / {r.reason_en}"
        table.add_row(r.name, str(r.photo_id or "-"), outcome)
    stored = sum(r.ok for r in results)
    table.caption = f"저장 / stored {stored}, 거부 / refused {len(results) - stored}"
    return table


@app.command("import")
def import_command(
    folder: Path = typer.Argument(..., help="Folder of JPEG/PNG/WebP/HEIC photos."),
    studio: str = typer.Option(..., "--studio", help="Username of the studio's owner."),
    session: str | None = typer.Option(None, "--session", help="Session code (made if new)."),
    photographer: str | None = typer.Option(None, "--photographer", help="Photographer name."),
    issue: bool = typer.Option(False, "--issue", help="Issue claim codes for stored photos."),
    codes_file: Path | None = typer.Option(
        None, "--codes", help="CSV for the claim codes (default ./claim-codes-<session>.csv)."
    ),
) -> None:
    """Upload a folder of photos to a studio session, optionally issuing claim codes."""
    if not folder.is_dir():
        console.print(f"[red]오류 / error:[/red] 폴더가 아닙니다 / not a folder: {folder}")
        raise typer.Exit(code=2)
    files = photo_files(folder)
    if not files:
        console.print("사진 파일이 없습니다 / no JPEG, PNG, WebP or HEIC files found")
        raise typer.Exit(code=2)

    def work(context: PlatformContext) -> list[FileResult]:
        target = resolve_target(context, studio, session, photographer)
        console.print(f"촬영 / session: {target.session_code} ({len(files)} files)")
        if not issue:
            return run_import(context, target, files, None)
        path = codes_file or Path(f"claim-codes-{target.session_code}.csv")
        with _open_codes_file(path) as codes:
            results = run_import(context, target, files, codes)
        console.print(
            f"[yellow]수령 코드 / claim codes:[/yellow] {path} (0600). 코드는 비밀번호와 같습니다: "
            "가진 사람은 누구나 사진을 수령할 수 있습니다. / Claim codes are bearer secrets: "
            "anyone holding one can claim the photo. Hand each to its customer only."
        )
        return results

    results = _run(work)
    console.print(summary_table(results))
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


@app.command("approve")
def approve_command(
    studio_id: int,
    by: str = typer.Option(..., "--by", help="Username of the deciding platform admin."),
) -> None:
    """Approve a studio: grant its signing address MINTER_ROLE (re-run to finish)."""
    from busanchain.studio.service import StudioService

    def work(context: PlatformContext) -> dict[str, Any]:
        admin_id = _admin_id(context, by)
        return StudioService(context).approve(studio_id, admin_id)

    studio = _run(work)
    console.print(f"사진관 / studio {studio['id']} {studio['name_ko']}: {studio['status']}")
    if studio["status"] != "active":
        console.print("아직 처리 중 / still pending: run the command again to finish")
        raise typer.Exit(code=1)


def _admin_id(context: PlatformContext, username: str) -> int:
    """The id of a platform admin, recorded as the decision's author; 403 for anyone else."""
    from busanchain.accounts import repository as accounts_repository
    from busanchain.domain.errors import PermissionDenied
    from busanchain.domain.roles import Role

    user_id = _user_id(context, username)
    with context.unit_of_work() as session:
        if Role.ADMIN not in accounts_repository.roles_of(session, user_id):
            raise PermissionDenied(
                "Only a platform admin may approve studios.",
                "플랫폼 관리자만 사진관을 승인할 수 있습니다.",
            )
    return user_id
