"""A KEK rotation re-seals residents' names and phones too (not only users' keys and fields)."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from busanchain.keys.kek import kek_from_hex
from busanchain.keys.service import KeyService, key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.residents import open_resident
from busanchain.programs.service import ProgramView
from busanchain.programs.tables import ResidentRecord
from tests.programs.conftest import csv_bytes, resident_rows


def test_rotation_re_seals_residents(platform: PlatformContext, live_program: ProgramView) -> None:
    rows = resident_rows(3, seed=7, wallets=True)
    ResidentImporter(platform).import_file(live_program.id, "r.csv", csv_bytes(rows))
    new_kek = kek_from_hex(secrets.token_hex(32))
    key_service_for(platform).rotate(new_kek)
    only_new = KeyService(platform, new_kek)
    with platform.unit_of_work() as session:
        residents = list(session.scalars(select(ResidentRecord)))
        assert {r.kek_id for r in residents} == {new_kek.key_id}
        opened = sorted(only_new.open_row(r).decode("utf-8") for r in residents)
        names = sorted(open_resident(platform, r)["name"] for r in residents)
    assert names == sorted(row["name"] for row in rows)
    assert all('"phone"' in text for text in opened)
