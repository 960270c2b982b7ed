"""The large-file path: rows checked and sealed in forked workers, stored chunk by chunk in one
transaction, one data key per chunk; and the Merkle tree built in a forked worker."""

from __future__ import annotations

import csv
import io
import random
import secrets

import pytest
from eth_account import Account
from sqlalchemy import select

from busanchain.keys.kek import KeyUnavailable, kek_from_hex
from busanchain.keys.service import KeyService, key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.programs import fasttree, importer
from busanchain.programs.disburse import Disburser
from busanchain.programs.importer import ImportRejected, ResidentImporter, read_table
from busanchain.programs.residents import open_resident, resident_crypto
from busanchain.programs.service import ProgramService, ProgramView
from busanchain.programs.tables import EnrollmentRecord, ResidentRecord
from busanchain.vouchers.merkle import grants_tree
from tests.programs.conftest import HEADER, counts, csv_bytes, program_fields, resident_rows


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file takes the worker path, in chunks of 3 rows."""
    monkeypatch.setattr(importer, "PARALLEL_MIN", 1)
    monkeypatch.setattr(importer, "CHECK_CHUNK", 3)


@pytest.mark.usefixtures("parallel")
def test_parallel_import_stores_every_row_in_file_order(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    rows = resident_rows(10, seed=31, wallets=True)
    for row in rows[::3]:
        row["wallet"] = ""  # these get a custodial account
    before = counts(platform)
    result = ResidentImporter(platform).import_file(live_program.id, "p.csv", csv_bytes(rows))
    assert (result.rows, result.new_residents, result.new_accounts) == (10, 10, 4)
    after = counts(platform)
    assert after["residents"] - before["residents"] == 10
    assert after["enrollments"] - before["enrollments"] == 10
    with platform.unit_of_work() as session:
        enrolled = session.execute(
            select(ResidentRecord)
            .join(EnrollmentRecord, EnrollmentRecord.resident_id == ResidentRecord.id)
            .order_by(EnrollmentRecord.id)
        ).scalars()
        opened = [open_resident(platform, r) for r in enrolled]
    assert [o["name"] for o in opened] == [r["name"] for r in rows]
    assert [o["phone"] for o in opened] == [r["phone"] for r in rows]


@pytest.mark.usefixtures("parallel")
def test_parallel_late_bad_rows_reject_the_whole_file(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    rows = resident_rows(9, seed=32, wallets=True)
    rows[7]["resident_id"] = rows[1]["resident_id"]  # chunk 3 repeats a row of chunk 1
    rows[7]["birth_date"] = rows[1]["birth_date"]
    rows[8]["phone"] = "02-123"
    before = counts(platform)
    with pytest.raises(ImportRejected) as caught:
        ResidentImporter(platform).import_file(live_program.id, "bad.csv", csv_bytes(rows))
    found = {(e["row"], e["column"]) for e in caught.value.details["errors"]}
    assert found == {(9, "resident_id"), (10, "phone")}
    assert counts(platform) == {**before, "imports": before["imports"] + 1}


@pytest.mark.usefixtures("parallel")
def test_known_residents_are_reused_by_a_second_program(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    rows = resident_rows(5, seed=33, wallets=True)
    ResidentImporter(platform).import_file(live_program.id, "a.csv", csv_bytes(rows))
    other = ProgramService(platform).create(None, program_fields(name_ko="둘째", name_en="Second"))
    more = resident_rows(2, seed=34, wallets=True)
    result = ResidentImporter(platform).import_file(other.id, "b.csv", csv_bytes(rows + more))
    assert (result.rows, result.new_residents) == (7, 2)
    moved = dict(rows[0], wallet=Account.create().address)  # a different wallet: refused
    with pytest.raises(ImportRejected) as caught:
        third = ProgramService(platform).create(None, program_fields(name_ko="셋", name_en="3"))
        ResidentImporter(platform).import_file(third.id, "c.csv", csv_bytes([moved]))
    assert {(e["row"], e["column"]) for e in caught.value.details["errors"]} == {(2, "wallet")}


@pytest.mark.usefixtures("parallel")
def test_batch_sealed_rows_stay_bound_to_their_row_and_rotate(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    rows = resident_rows(4, seed=35, wallets=True)
    ResidentImporter(platform).import_file(live_program.id, "s.csv", csv_bytes(rows))
    crypto = resident_crypto(platform)
    with platform.unit_of_work() as session:
        first, second = list(session.scalars(select(ResidentRecord).order_by(ResidentRecord.id)))[
            :2
        ]
        # Same chunk, same data key: a ciphertext moved onto another row must still not open.
        first.ciphertext, first.nonce = second.ciphertext, second.nonce
        with pytest.raises(KeyUnavailable):
            crypto.open_personal(first)
        first.wrapped_dek = second.wrapped_dek
        with pytest.raises(KeyUnavailable):
            crypto.open_personal(first)
        session.rollback()
    new_kek = kek_from_hex(secrets.token_hex(32))
    assert key_service_for(platform).rotate(new_kek) >= 4
    only_new = KeyService(platform, new_kek)
    with platform.unit_of_work() as session:
        residents = list(session.scalars(select(ResidentRecord).order_by(ResidentRecord.id)))
        names = [only_new.open_row(r).decode() for r in residents]
    assert [n for n in names if "name" in n] and len(names) == 4
    assert sorted(open_resident(platform, r)["name"] for r in residents) == sorted(
        r["name"] for r in rows
    )


def test_plain_and_quoted_csv_read_the_same() -> None:
    rows = resident_rows(6, seed=36, wallets=True)
    rows[2]["name"] = "  이 순신 "
    plain = csv_bytes(rows)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([row.get(h, "") for h in HEADER])
    writer.writerow([""] * len(HEADER))  # blank rows are skipped by both readers
    quoted = out.getvalue().encode()
    assert b'"' not in plain and b'"' in quoted
    header, fast = read_table("p.csv", plain + b",,,\r\n\r\n")
    header_q, slow = read_table("q.csv", quoted)
    assert header == header_q
    assert [list(r) for r in fast] == [list(r) for r in slow]
    assert fast[2][1] == "이 순신"


def test_background_tree_equals_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fasttree, "BACKGROUND_MIN", 1)
    rng = random.Random(5)
    grants = [(Account.create().address, rng.randrange(1, 10**6)) for _ in range(37)]
    with fasttree.background_tree(grants, 3) as building:
        tree = building()
    assert tree.levels == grants_tree(grants, 3).levels


def test_merkle_round_with_background_tree(
    platform: PlatformContext, live_program: ProgramView, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fasttree, "BACKGROUND_MIN", 1)
    rows = resident_rows(5, seed=37, wallets=True)
    ResidentImporter(platform).import_file(live_program.id, "m.csv", csv_bytes(rows))
    view = Disburser(platform).run_round(live_program.id, None, "merkle")
    assert view.state == "done" and view.recipients == 5
    expected = grants_tree([(r["wallet"], 300_000) for r in rows], view.round_id)
    assert view.root == "0x" + expected.root.hex()
