"""Resident import: CSV and XLSX, all rows or none, per-row reports, hashed resident ids."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from busanchain.platform.context import PlatformContext
from busanchain.programs.importer import ImportRejected, ResidentImporter, parse_resident_id
from busanchain.programs.residents import mask_name, resident_crypto
from busanchain.programs.service import ProgramService, ProgramView
from busanchain.programs.tables import ResidentRecord
from tests.programs.conftest import HEADER, counts, csv_bytes, program_fields, resident_rows


def test_csv_import_creates_residents_accounts_and_enrollments(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    rows = resident_rows(5)
    before = counts(platform)
    result = ResidentImporter(platform).import_file(live_program.id, "a.csv", csv_bytes(rows))
    assert result.state == "accepted" and result.rows == 5
    assert result.new_accounts == 5 and result.total_amount == 5 * 300_000
    after = counts(platform)
    assert after["residents"] - before["residents"] == 5
    assert after["enrollments"] - before["enrollments"] == 5
    assert after["users"] - before["users"] == 5 and after["keys"] - before["keys"] == 5
    crypto = resident_crypto(platform)
    with platform.unit_of_work() as session:
        residents = session.query(ResidentRecord).all()
        opened = sorted(crypto.open_personal(r)["name"] for r in residents)
    assert opened == sorted(r["name"] for r in rows)


def test_xlsx_with_korean_headers_and_wallets(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    rows = resident_rows(3, seed=7, wallets=True, amount="150000")
    book = Workbook()
    sheet = book.active
    sheet.append(["주민등록번호", "이름", "전화번호", "생년월일", "구군", "금액", "지갑"])
    for r in rows:
        born = date.fromisoformat(r["birth_date"])
        sheet.append(
            [r["resident_id"], r["name"], r["phone"], born, r["district"], 150000, r["wallet"]]
        )
    out = io.BytesIO()
    book.save(out)
    result = ResidentImporter(platform).import_file(live_program.id, "list.xlsx", out.getvalue())
    assert result.rows == 3 and result.new_accounts == 0 and result.total_amount == 450_000


def test_cp949_csv(platform: PlatformContext, live_program: ProgramView) -> None:
    content = csv_bytes(resident_rows(2, seed=3), encoding="cp949")
    assert ResidentImporter(platform).import_file(live_program.id, "k.csv", content).rows == 2


BAD_ROWS = [
    ("resident_id", {"resident_id": "9901011234567"}),  # month 01 day 01 fine, but see below
    ("resident_id", {"resident_id": "991340-1234567"}),
    ("resident_id", {"resident_id": "12345"}),
    ("phone", {"phone": "02-123-4567"}),
    ("phone", {"phone": "010-12-34"}),
    ("birth_date", {"birth_date": "1999-02-03"}),  # does not match the resident number
    ("birth_date", {"resident_id": "600101-1234567", "birth_date": "1960-01-01"}),  # too old
    ("district", {"district": "강남구"}),
    ("amount", {"amount": "999999"}),
    ("wallet", {"wallet": "0x1234"}),
    ("name", {"name": ""}),
]


@pytest.mark.parametrize(("column", "change"), BAD_ROWS[1:])
def test_bad_row_rejects_whole_file(
    platform: PlatformContext, live_program: ProgramView, column: str, change: dict[str, str]
) -> None:
    rows = resident_rows(4, seed=11)
    rows[2].update(change)
    before = counts(platform)
    with pytest.raises(ImportRejected) as caught:
        ResidentImporter(platform).import_file(live_program.id, "bad.csv", csv_bytes(rows))
    errors = caught.value.details["errors"]
    assert {(e["row"], e["column"]) for e in errors} >= {(4, column)}
    assert all(e["message_ko"] and e["message_en"] for e in errors)
    after = counts(platform)
    assert after == {**before, "imports": before["imports"] + 1}  # only the rejected record
    with platform.unit_of_work() as session:
        record = session.execute(text("select state, errors from resident_imports")).one()
    assert record[0] == "rejected"


def test_district_not_allowed_and_duplicates(platform: PlatformContext) -> None:
    program = ProgramService(platform).create(None, program_fields(allowed_districts=[26350]))
    rows = resident_rows(3, seed=5, district="26350")
    rows[1]["district"] = "26110"
    rows[2]["resident_id"] = rows[0]["resident_id"]
    rows[2]["birth_date"] = rows[0]["birth_date"]
    before = counts(platform)
    with pytest.raises(ImportRejected) as caught:
        ResidentImporter(platform).import_file(program.id, "d.csv", csv_bytes(rows))
    found = {(e["row"], e["column"]) for e in caught.value.details["errors"]}
    assert found == {(3, "district"), (4, "resident_id")}
    assert counts(platform)["residents"] == before["residents"]


def test_already_enrolled_is_refused(platform: PlatformContext, live_program: ProgramView) -> None:
    rows = resident_rows(2, seed=9)
    importer = ResidentImporter(platform)
    importer.import_file(live_program.id, "a.csv", csv_bytes(rows))
    before = counts(platform)
    with pytest.raises(ImportRejected) as caught:
        importer.import_file(
            live_program.id, "b.csv", csv_bytes([*resident_rows(1, seed=99), rows[1]])
        )
    assert [(e["row"], e["column"]) for e in caught.value.details["errors"]] == [(3, "resident_id")]
    assert counts(platform) == {**before, "imports": before["imports"] + 1}


def test_budget_is_enforced(platform: PlatformContext) -> None:
    program = ProgramService(platform).create(
        None, program_fields(budget=500_000, per_person_amount=300_000)
    )
    with pytest.raises(ImportRejected) as caught:
        ResidentImporter(platform).import_file(program.id, "a.csv", csv_bytes(resident_rows(2)))
    assert caught.value.details["errors"][0]["row"] == 0


def test_missing_column(platform: PlatformContext, live_program: ProgramView) -> None:
    content = csv_bytes(
        resident_rows(1),
        header=["resident_id", "name", "phone", "x", "district", "amount", "wallet"],
    )
    with pytest.raises(Exception) as caught:
        ResidentImporter(platform).import_file(live_program.id, "a.csv", content)
    assert "birth_date" in str(caught.value)


def test_resident_ids_are_stored_only_as_hmac(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    rows = resident_rows(3, seed=21)
    ResidentImporter(platform).import_file(live_program.id, "a.csv", csv_bytes(rows))
    platform.engine.dispose()
    database = platform.settings.database_url.removeprefix("sqlite:///")
    if not database.endswith(".sqlite3"):
        pytest.skip("byte scan needs the SQLite file")
    raw = b"".join(
        Path(path).read_bytes() for path in (database, database + "-wal") if Path(path).exists()
    )
    crypto = resident_crypto(platform)
    first = rows[0]["resident_id"].replace("-", "")
    assert crypto.hash_id(first).encode() in raw  # the scan does see the stored data
    for r in rows:
        digits = r["resident_id"].replace("-", "")
        assert digits.encode() not in raw and r["resident_id"].encode() not in raw
        assert r["name"].encode() not in raw
        assert r["phone"].replace("-", "").encode() not in raw and r["phone"].encode() not in raw


def test_resident_number_rules() -> None:
    assert parse_resident_id("990101-1234567") == ("9901011234567", date(1999, 1, 1))
    assert parse_resident_id("0502283234567")[1] == date(2005, 2, 28)
    arabic_indic = "٩٩٠١٠١-1٢٣٤٥٦٧"  # digits to \d, but not to a hash over ASCII
    fullwidth = "９９０１０１-１２３４５６７"
    for bad in (
        "990230-1234567",
        "990101-9234567",
        "99010-11234567",
        "abc",
        arabic_indic,
        fullwidth,
    ):
        with pytest.raises(ValueError):
            parse_resident_id(bad)
    assert mask_name("김민수") == "김*수" and mask_name("이수") == "이*"
    assert HEADER[0] == "resident_id"
