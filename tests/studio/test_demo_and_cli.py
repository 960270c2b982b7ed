"""The studio and gallery demo (loaded twice) and `busanchain studio import|approve`, on real
anvil with the real pipeline: no part of the studio or gallery is replaced."""

from __future__ import annotations

import csv
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from busanchain.accounts.service import account_service_for
from busanchain.accounts.tables import UserRecord
from busanchain.cli.main import app
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY
from busanchain.domain.roles import Role
from busanchain.gallery import repository as gallery_repo
from busanchain.gallery.demo import EXHIBITION_TITLE, load_photo_demo
from busanchain.gallery.service import GalleryService
from busanchain.gallery.tables import GalleryAuction, GalleryExhibition, GalleryOrder
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from busanchain.platform.demo import DEMO_PASSWORD
from busanchain.studio import repository as studio_repo
from busanchain.studio.demo import (
    AUCTIONED_SEED,
    LISTED_SEED,
    STUDIO_NAME,
    kept_claim_code,
    load_demo_studio,
)
from busanchain.studio.demo_art import demo_photo
from busanchain.studio.service import StudioService
from busanchain.studio.tables import (
    PhotographerRecord,
    PhotoRecord,
    ShootingSessionRecord,
    StudioRecord,
)
from tests.merchants.conftest import bizno
from tests.studio import corpus
from tests.studio.studio_support import user
from tests.token.conftest import platform  # noqa: F401 (fixture)

COUNTED = {
    "users": UserRecord,
    "studios": StudioRecord,
    "photographers": PhotographerRecord,
    "sessions": ShootingSessionRecord,
    "photos": PhotoRecord,
    "orders": GalleryOrder,
    "auctions": GalleryAuction,
    "exhibitions": GalleryExhibition,
    "outbox": OutboxEntry,
}


def counts(context: PlatformContext) -> dict[str, int]:
    """Rows in every table the demo writes."""
    with context.unit_of_work() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in COUNTED.items()
        }


def demo_ids(context: PlatformContext) -> dict[str, int]:
    """The demo users `load_demo_data` makes, as far as the photo demo needs them."""
    accounts = account_service_for(context)
    wanted = (("studio1", Role.STUDIO), ("citizen1", Role.CITIZEN), ("citizen2", Role.CITIZEN))
    return {name: accounts.create_user(name, DEMO_PASSWORD, [role]).id for name, role in wanted}


def test_photo_demo_loads_once(platform: PlatformContext) -> None:  # noqa: F811
    ids = demo_ids(platform)
    started = time.monotonic()
    lines = load_photo_demo(platform, ids)
    elapsed = time.monotonic() - started
    assert elapsed < 40, f"the photo demo took {elapsed:.1f}s"  # ~20 s target, slow CI margin
    text = "\n".join(lines)
    assert "skipped" not in text, text

    with platform.unit_of_work() as session:
        studio = studio_repo.studio_of_owner(session, ids["studio1"])
        assert studio is not None
        assert (studio.name_ko, studio.name_en, studio.status) == (*STUDIO_NAME, "active")
        assert studio.decided_by is not None and studio.decided_by != ids["studio1"]
        assert len(studio_repo.photographers(session, studio.id)) == 2
        photos = list(
            session.scalars(select(PhotoRecord).where(PhotoRecord.studio_id == studio.id))
        )
        signing = studio.signing_address
    service = StudioService(platform)
    assert service._is_minter(signing)
    states = sorted(p.state for p in photos)
    assert states == ["claimed"] * 4 + ["issued", "uploaded"]
    assert sum(p.published for p in photos) == 4  # the auctioned one stays published
    assert all(p.width == 1600 and p.height == 1200 for p in photos)

    gallery = GalleryService(platform)
    demo = load_demo_studio(platform, ids)  # re-reading the demo adds nothing either
    listed, auctioned = demo.tokens[LISTED_SEED], demo.tokens[AUCTIONED_SEED]
    with platform.unit_of_work() as session:
        assert gallery_repo.best_listing(session, listed, gallery.chain.chain_time()) is not None
        assert gallery_repo.live_auction_of_token(session, auctioned) is not None
        shows = [e for e in gallery_repo.exhibitions(session) if e.title_ko == EXHIBITION_TITLE[0]]
    assert len(shows) == 1
    assert len(gallery.exhibition(shows[0].id)["works"]) == 3
    assert gallery.chain.owner(auctioned) == gallery.chain.gallery.address  # escrow
    assert gallery.chain.is_published(auctioned)  # visible to bidders while escrowed

    code = kept_claim_code(platform)
    assert code is not None and f"/claim/{code}" in text
    path = platform.settings.data_dir / "demo" / "claim-code.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert service.claim_preview(None, code)["state"] == "issued"

    before = counts(platform)
    again = load_photo_demo(platform, ids)
    assert counts(platform) == before
    assert again == lines


@pytest.fixture
def cli_env(
    platform: PlatformContext,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Point `Settings.from_env()` at the test's database and node."""
    settings = platform.settings
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BUSANCHAIN_ROOT", str(tmp_path))
    monkeypatch.setenv("BUSANCHAIN_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BUSANCHAIN_RPC_URL", settings.node_rpc_url)
    monkeypatch.setenv("BUSANCHAIN_OPERATOR_KEY", ANVIL_DEFAULT_OPERATOR_KEY)
    monkeypatch.setenv("BUSANCHAIN_KEK", "a" * 64)
    monkeypatch.setenv("BUSANCHAIN_DATA_DIR", str(settings.data_dir))


def photo_folder(tmp_path: Path) -> Path:
    """Three generated photos, one hostile file (JPEG with a ZIP appended) and a note."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    for seed in (21, 22, 23):
        (folder / f"busan-{seed}.jpg").write_bytes(demo_photo(seed, (640, 480)).jpeg)
    (folder / "poly.jpg").write_bytes(corpus.jpeg(corpus.scene(320, 240)) + corpus.zip_archive())
    (folder / "notes.txt").write_text("not a photo", encoding="utf-8")
    return folder


def registered_studio(context: PlatformContext) -> tuple[int, int, int]:
    """A pending studio and an admin: (owner id, studio id, admin id)."""
    owner = user(context, "importer", Role.STUDIO)
    admin = user(context, "cliadmin", Role.ADMIN)
    studio = StudioService(context).register(owner, "가져오기 사진관", None, bizno("321654987"))
    return owner, int(studio["id"]), admin


def test_cli_approves_then_imports_and_issues(
    platform: PlatformContext,  # noqa: F811
    cli_env: None,
    tmp_path: Path,
) -> None:
    owner, studio_id, _admin = registered_studio(platform)
    runner = CliRunner()
    folder = photo_folder(tmp_path)
    args = ["studio", "import", str(folder), "--studio", "importer", "--session", "CLI-1"]

    refused = runner.invoke(app, args)  # the studio is not approved yet
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.output.split())
    assert "승인된 사진관만" in said and "only an approved studio" in said

    not_admin = runner.invoke(app, ["studio", "approve", str(studio_id), "--by", "importer"])
    assert not_admin.exit_code == 2 and "platform admin" in not_admin.output
    approved = runner.invoke(app, ["studio", "approve", str(studio_id), "--by", "cliadmin"])
    assert approved.exit_code == 0, approved.output
    assert "active" in approved.output

    codes = tmp_path / "codes.csv"
    result = runner.invoke(
        app, [*args, "--photographer", "박사진", "--issue", "--codes", str(codes)]
    )
    assert result.exit_code == 1, result.output  # one file was refused
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "✗ poly.jpg: 사진 뒤에 다른 데이터가 붙어 있어 받을 수 없습니다." in said
    assert "extra data after the image" in said
    assert "stored 3, 거부 / refused 1" in said
    assert "bearer secrets" in said
    assert "notes.txt" not in said

    detail = StudioService(platform).sessions(owner)
    assert [s["code"] for s in detail] == ["CLI-1"]
    photos = StudioService(platform).session_detail(owner, int(detail[0]["id"]))["photos"]
    assert len(photos) == 3 and {p["state"] for p in photos} == {"issued"}
    assert all(p["photographer_id"] is not None for p in photos)

    assert stat.S_IMODE(codes.stat().st_mode) == 0o600
    with codes.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["file"] for r in rows) == ["busan-21.jpg", "busan-22.jpg", "busan-23.jpg"]
    for row in rows:
        assert row["claim_url"].endswith("/claim/" + row["claim_code"])
        assert StudioService(platform).claim_preview(None, row["claim_code"])["state"] == "issued"

    again = runner.invoke(app, [*args, "--issue", "--codes", str(codes)])
    assert again.exit_code == 2 and "exists" in again.output  # never overwrites codes
    duplicates = runner.invoke(app, args)
    assert duplicates.exit_code == 1  # every photo is already on the platform
    said = " ".join(duplicates.output.split())
    assert "stored 0" in said and "이미 플랫폼에 올라온 사진" in said


def test_cli_import_refuses_unknown_studio(
    platform: PlatformContext,  # noqa: F811
    cli_env: None,
    tmp_path: Path,
) -> None:
    folder = photo_folder(tmp_path)
    result = CliRunner().invoke(app, ["studio", "import", str(folder), "--studio", "nobody"])
    assert result.exit_code == 2
    assert "해당 아이디의 계정이 없습니다" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = CliRunner().invoke(app, ["studio", "import", str(empty), "--studio", "nobody"])
    assert nothing.exit_code == 2 and "no JPEG" in nothing.output
