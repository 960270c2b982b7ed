"""The programs API and pages: roles, idempotency, per-row reports, progress, masking."""

from __future__ import annotations

import time
import uuid
from typing import Any

from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from tests.programs.conftest import counts, csv_bytes, program_fields, resident_rows
from tests.token.conftest import Actor, actor


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}


def _create(official: Actor, **changes: Any) -> dict[str, Any]:
    answer = official.client.post(
        "/api/programs", json=program_fields(**changes), headers=official.headers | _key()
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_official_creates_imports_disburses_auditor_reads(platform: PlatformContext) -> None:
    official = actor(platform, "official1", Role.OFFICIAL)
    auditor = actor(platform, "auditor1", Role.AUDITOR)
    citizen = actor(platform, "citizen1", Role.CITIZEN)
    program = _create(official)
    assert program["state"] == "live"
    pid = program["id"]
    rows = resident_rows(4, seed=31)
    rows[0]["name"] = "김민수"
    upload = {"file": ("r.csv", csv_bytes(rows), "text/csv")}
    answer = official.client.post(
        f"/api/programs/{pid}/imports", files=upload, headers=official.headers
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["rows"] == 4
    key = _key()
    started = official.client.post(
        f"/api/programs/{pid}/rounds", json={"mode": "merkle"}, headers=official.headers | key
    )
    assert started.status_code == 202, started.text
    status_url = started.json()["status_url"]
    deadline = time.monotonic() + 30
    while True:
        status = official.client.get(status_url).json()
        if status["state"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status["percent"] == 100 and status["done"] == 4
    replay = official.client.post(
        f"/api/programs/{pid}/rounds", json={"mode": "merkle"}, headers=official.headers | key
    )
    assert replay.status_code == 202 and replay.json()["id"] == started.json()["id"]
    names = [e["name"] for e in official.client.get(f"/api/programs/{pid}/enrollments").json()]
    assert names[0] == "김*수" and all("*" in n for n in names)
    seen = auditor.client.get(f"/api/programs/{pid}/enrollments").json()
    assert [e["name"] for e in seen] == [None] * 4
    detail = auditor.client.get(f"/api/programs/{pid}").json()
    assert detail["ledger"]["unclaimed"] == 4 * 300_000 and detail["enrolled"] == 4
    assert auditor.client.get("/api/programs").status_code == 200
    assert (
        auditor.client.post(
            "/api/programs", json=program_fields(), headers=auditor.headers | _key()
        ).status_code
        == 403
    )
    assert citizen.client.get("/api/programs").status_code == 403
    assert citizen.client.get(f"/api/programs/{pid}/enrollments").status_code == 403
    page = auditor.client.get(f"/programs/{pid}")
    assert page.status_code == 200 and "김민수" not in page.text and "김*수" not in page.text
    page = official.client.get(f"/programs/{pid}")
    assert "김*수" in page.text and "김민수" not in page.text
    assert official.client.get("/programs?lang=en").status_code == 200
    assert "Allowed districts" in official.client.get("/programs/new?lang=en").text


def test_bad_import_gets_per_row_report_and_nothing_is_added(platform: PlatformContext) -> None:
    official = actor(platform, "official1", Role.OFFICIAL)
    pid = _create(official)["id"]
    rows = resident_rows(3, seed=41)
    rows[1]["phone"] = "12345"
    rows[2]["resident_id"] = "991399-1234567"
    before = counts(platform)
    answer = official.client.post(
        f"/api/programs/{pid}/imports?lang=en",
        files={"file": ("bad.csv", csv_bytes(rows), "text/csv")},
        headers=official.headers,
    )
    assert answer.status_code == 422
    details = answer.json()["error"]["details"]
    assert {(e["row"], e["column"]) for e in details["errors"]} == {
        (3, "phone"),
        (4, "resident_id"),
    }
    assert counts(platform) == {**before, "imports": before["imports"] + 1}
    stored = official.client.get(f"/api/programs/{pid}/imports/{details['import_id']}").json()
    assert stored["state"] == "rejected" and len(stored["errors"]) == 2


def test_create_validation_and_idempotency(platform: PlatformContext) -> None:
    official = actor(platform, "official1", Role.OFFICIAL)
    bad = official.client.post(
        "/api/programs?lang=en", json=program_fields(budget=0), headers=official.headers | _key()
    )
    assert bad.status_code == 422 and "budget" in bad.json()["error"]["message"]
    no_key = official.client.post("/api/programs", json=program_fields(), headers=official.headers)
    assert no_key.status_code == 422
    key, body = _key(), program_fields()
    first = official.client.post("/api/programs", json=body, headers=official.headers | key)
    again = official.client.post("/api/programs", json=body, headers=official.headers | key)
    assert first.json()["id"] == again.json()["id"]
    assert len(official.client.get("/api/programs").json()) == 1
    other = official.client.post(
        "/api/programs", json=program_fields(budget=5), headers=official.headers | key
    )
    assert other.status_code == 422
    pid = first.json()["id"]
    fixed = official.client.patch(
        f"/api/programs/{pid}", json={"budget": 1}, headers=official.headers
    )
    assert fixed.status_code == 409
    renamed = official.client.patch(
        f"/api/programs/{pid}", json={"name_en": "Renamed"}, headers=official.headers
    )
    assert renamed.status_code == 200 and renamed.json()["name_en"] == "Renamed"


def test_revoke_over_http(platform: PlatformContext) -> None:
    official = actor(platform, "official1", Role.OFFICIAL)
    pid = _create(official)["id"]
    rows = resident_rows(2, seed=51, wallets=True)
    official.client.post(
        f"/api/programs/{pid}/imports",
        files={"file": ("r.csv", csv_bytes(rows), "text/csv")},
        headers=official.headers,
    )
    from busanchain.programs.disburse import Disburser

    Disburser(platform).run_round(pid, None, "direct")
    from sqlalchemy import select

    from busanchain.programs.tables import GrantRecord

    with platform.unit_of_work() as session:
        grant_id = session.scalars(select(GrantRecord.id)).first()
    key = _key()
    answer = official.client.post(
        f"/api/programs/grants/{grant_id}/revoke", headers=official.headers | key
    )
    assert answer.status_code == 200 and answer.json()["state"] == "revoked", answer.text
    replay = official.client.post(
        f"/api/programs/grants/{grant_id}/revoke", headers=official.headers | key
    )
    assert replay.status_code == 200 and replay.json()["state"] == "revoked"
    twice = official.client.post(
        f"/api/programs/grants/{grant_id}/revoke", headers=official.headers | _key()
    )
    assert twice.status_code == 409
