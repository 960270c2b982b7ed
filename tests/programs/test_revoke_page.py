"""Revoking grants from the program page: roles, confirmation form, idempotency, 422s, search."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from busanchain.chain.client import ChainClient
from busanchain.domain.roles import Role
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from busanchain.programs import grants as grant_listing
from busanchain.programs.disburse import Disburser
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.service import ProgramService
from busanchain.programs.tables import GrantRecord
from busanchain.vouchers.contracts import VoucherChain
from tests.payments.conftest import World, pay
from tests.programs.conftest import csv_bytes, program_fields, resident_rows
from tests.programs.test_disburse import _claim
from tests.token.conftest import Actor, actor

KEY_FIELD = re.compile(r'name="idempotency_key" value="([^"]+)"')


def _program(context: PlatformContext, rows: list[dict[str, str]], mode: str) -> int:
    """A live program with `rows` imported and one finished round in `mode`."""
    program = ProgramService(context).create(None, program_fields())
    ResidentImporter(context).import_file(program.id, "r.csv", csv_bytes(rows))
    assert Disburser(context).run_round(program.id, None, mode).state == "done"
    return program.id


def _grants(context: PlatformContext, program_id: int) -> list[tuple[int, str, str]]:
    """(id, address, state) of the program's grants, in id order."""
    with context.unit_of_work() as session:
        rows = session.execute(
            select(GrantRecord.id, GrantRecord.address, GrantRecord.state)
            .where(GrantRecord.program_id == program_id)
            .order_by(GrantRecord.id)
        )
        return [(i, a, s) for i, a, s in rows]


def _revocations(context: PlatformContext, grant_id: int) -> int:
    """Signed revocation transactions of a grant in the outbox."""
    with context.unit_of_work() as session:
        stmt = select(func.count()).where(OutboxEntry.reference == f"grant:{grant_id}:revoke")
        return int(session.scalar(stmt.select_from(OutboxEntry)) or 0)


def _confirm_key(official: Actor, program_id: int, grant_id: int) -> str:
    page = official.client.get(f"/programs/{program_id}/grants/{grant_id}/revoke")
    assert page.status_code == 200, page.text
    found = KEY_FIELD.search(page.text)
    assert found is not None
    return found.group(1)


def _submit(who: Actor, program_id: int, grant_id: int, key: str) -> Any:
    return who.client.post(
        f"/programs/{program_id}/grants/{grant_id}/revoke",
        data={"csrf_token": who.headers["X-CSRF-Token"], "idempotency_key": key},
        follow_redirects=False,
    )


def _row(html: str, grant_id: int) -> str:
    found = re.search(rf'<tr data-grant-id="{grant_id}".*?</tr>', html, re.S)
    assert found is not None, f"grant {grant_id} not listed"
    return found.group(0)


def test_official_revokes_through_the_page_once(platform: PlatformContext) -> None:
    pid = _program(platform, resident_rows(3, seed=61, wallets=True), "direct")
    official = actor(platform, "official1", Role.OFFICIAL)
    grant_id, address, _state = _grants(platform, pid)[0]
    page = official.client.get(f"/programs/{pid}")
    assert 'data-action="revoke"' in _row(page.text, grant_id)
    key = _confirm_key(official, pid, grant_id)
    assert _confirm_key(official, pid, grant_id) != key  # every rendering gets a fresh key

    first = _submit(official, pid, grant_id, key)
    again = _submit(official, pid, grant_id, key)  # a double submit of the same form
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == f"/programs/{pid}?grant={grant_id}#revoke-status"
    assert _revocations(platform, grant_id) == 1
    chain = VoucherChain(platform)
    assert chain.voucher_balance(address, pid) == 0
    status = official.client.get(f"/api/programs/grants/{grant_id}").json()
    assert status["state"] == "revoked" and status["can_revoke"] is False

    shown = official.client.get(f"/programs/{pid}?grant={grant_id}")
    assert 'data-testid="revoke-state" class="grant-state revoked">회수됨' in shown.text
    assert 'data-action="revoke"' not in _row(shown.text, grant_id)
    english = official.client.get(f"/programs/{pid}?grant={grant_id}&lang=en")
    assert ">Revoked</strong>" in english.text
    other_key = _submit(official, pid, grant_id, f"revoke-{uuid.uuid4().hex}")
    assert other_key.status_code == 409 and _revocations(platform, grant_id) == 1


def test_auditor_reads_and_citizen_is_refused(platform: PlatformContext) -> None:
    pid = _program(platform, resident_rows(2, seed=62, wallets=True), "direct")
    auditor = actor(platform, "auditor1", Role.AUDITOR)
    citizen = actor(platform, "citizen1", Role.CITIZEN)
    grant_id = _grants(platform, pid)[0][0]
    page = auditor.client.get(f"/programs/{pid}")
    assert page.status_code == 200
    assert "지급됨" in _row(page.text, grant_id) and 'data-action="revoke"' not in page.text
    assert 'name="gq"' not in page.text  # no name search for auditors: names are not theirs
    assert auditor.client.get(f"/programs/{pid}/grants/{grant_id}/revoke").status_code == 403
    assert _submit(auditor, pid, grant_id, "revoke-auditor-1").status_code == 403
    assert citizen.client.get(f"/programs/{pid}").status_code == 403
    assert _submit(citizen, pid, grant_id, "revoke-citizen-1").status_code == 403
    assert citizen.client.get(f"/api/programs/grants/{grant_id}").status_code == 403
    assert _grants(platform, pid)[0][2] == "open" and _revocations(platform, grant_id) == 0
    # a grant id past the INTEGER key is a 422, not a database error (PostgreSQL)
    assert auditor.client.get("/api/programs/grants/2147483648").status_code == 422


def test_claimed_grant_has_no_button_and_a_forced_post_is_422(platform: PlatformContext) -> None:
    pid = _program(platform, resident_rows(3, seed=63, wallets=True), "merkle")
    official = actor(platform, "official1", Role.OFFICIAL)
    (claimed, address, _s), (open_id, _a, _s2) = _grants(platform, pid)[:2]
    _claim(platform, pid, address)
    page = official.client.get(f"/programs/{pid}")
    assert 'data-state="claimed"' in _row(page.text, claimed)
    assert 'data-action="revoke"' not in _row(page.text, claimed)
    assert 'data-action="revoke"' in _row(page.text, open_id)

    forced = _submit(official, pid, claimed, "revoke-forced-1")
    assert forced.status_code == 422 and "청구한 지급은 회수할 수 없습니다" in forced.text
    english = official.client.post(
        f"/api/programs/grants/{claimed}/revoke?lang=en",
        headers=official.headers | {"Idempotency-Key": "revoke-forced-2"},
    )
    assert english.status_code == 422
    assert "already claimed" in english.json()["error"]["message"]
    assert official.client.get(f"/programs/{pid}/grants/{claimed}/revoke").status_code == 422
    assert _revocations(platform, claimed) == 0
    assert _grants(platform, pid)[0][2] == "claimed"
    assert _submit(official, pid + 1, open_id, "revoke-elsewhere").status_code == 404


def test_grant_search_filters_and_pages(
    platform: PlatformContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = resident_rows(30, seed=64, wallets=True, district="26110")
    rows[27].update(name="박하늘", district="26350")
    pid = _program(platform, rows, "merkle")
    official = actor(platform, "official1", Role.OFFICIAL)
    grants = _grants(platform, pid)

    first = official.client.get(f"/programs/{pid}")
    assert first.text.count("<tr data-grant-id=") == grant_listing.GRANT_PAGE
    next_link = re.search(r'data-testid="grants-next" href="([^"]+)"', first.text)
    assert next_link is not None
    rest = official.client.get(next_link.group(1).replace("&amp;", "&"))
    assert rest.text.count("<tr data-grant-id=") == 30 - grant_listing.GRANT_PAGE
    assert 'data-testid="grants-next"' not in rest.text

    by_name = official.client.get(f"/programs/{pid}", params={"gq": "박*늘"})
    assert by_name.text.count("<tr data-grant-id=") == 1 and "박*늘" in by_name.text
    by_district = official.client.get(f"/programs/{pid}", params={"gdistrict": "26350"})
    assert by_district.text.count("<tr data-grant-id=") == 1
    revoked = official.client.get(f"/programs/{pid}", params={"gstate": "revoked"})
    assert revoked.text.count("<tr data-grant-id=") == 0
    assert {s for _i, _a, s in grants} == {"open"}

    bad = official.client.get(f"/programs/{pid}?gdistrict=99999&lang=en")
    assert bad.status_code == 422 and "Unknown district" in bad.text
    assert official.client.get(f"/programs/{pid}?gstate=lost").status_code == 422
    assert official.client.get(f"/programs/{pid}?gafter=-1").status_code == 422

    monkeypatch.setattr(grant_listing, "NAME_SCAN_LIMIT", 10)
    monkeypatch.setattr(grant_listing, "NAME_SCAN_CHUNK", 5)
    assert _follow_search(official, pid, "최*수") == (3, 0)  # 10 names opened per request
    requests, found = _follow_search(official, pid, "박*늘")
    assert found == 1 and requests <= 3


def _follow_search(official: Actor, pid: int, name: str) -> tuple[int, int]:
    """Follow a bounded name search to its end: (requests made, grants found)."""
    page = official.client.get(f"/programs/{pid}", params={"gq": name, "lang": "ko"})
    requests, found = 1, 0
    while True:
        assert page.status_code == 200
        found += page.text.count("<tr data-grant-id=")
        link = re.search(r'data-testid="grants-next" href="([^"]+)"', page.text)
        if link is None or found:
            return requests, found
        assert "더 찾기" in page.text and "gq=" in link.group(1)
        page = official.client.get(link.group(1).replace("&amp;", "&"))
        requests += 1


def test_spent_direct_grant_has_no_button_and_a_forced_post_is_422(
    platform: PlatformContext,
) -> None:
    citizen = actor(platform, "citizen1", Role.CITIZEN)
    rows = resident_rows(2, seed=65, wallets=True)
    rows[0]["wallet"] = citizen.address
    pid = _program(platform, rows, "direct")
    official = actor(platform, "official1", Role.OFFICIAL)
    world = World(platform, VoucherChain(platform))
    _owner, code = world.merchant("shop1")
    paid = pay(citizen, pid, code, 50_000)
    assert paid.status_code in (200, 202), paid.text
    assert world.relay() == 1
    spent = next(i for i, a, _s in _grants(platform, pid) if a == citizen.address)

    page = official.client.get(f"/programs/{pid}")
    assert 'data-state="spent"' in _row(page.text, spent) and "사용됨" in _row(page.text, spent)
    assert 'data-action="revoke"' not in _row(page.text, spent)
    forced = _submit(official, pid, spent, "revoke-spent-1")
    assert forced.status_code == 422 and "이미 사용한 바우처는 회수할 수 없습니다" in forced.text
    assert _revocations(platform, spent) == 0
    assert VoucherChain(platform).voucher_balance(citizen.address, pid) == 250_000
    world.close()


def test_a_pending_revocation_is_followed_until_mined(platform: PlatformContext) -> None:
    """With no block mined yet the page answers at once; polling settles it once mined."""
    pid = _program(platform, resident_rows(1, seed=66, wallets=True), "direct")
    official = actor(platform, "official1", Role.OFFICIAL)
    grant_id = _grants(platform, pid)[0][0]
    node = ChainClient(platform.settings.node_rpc_url)
    node.request("evm_setAutomine", [False])
    try:
        sent = _submit(official, pid, grant_id, _confirm_key(official, pid, grant_id))
        assert sent.status_code == 303
        pending = official.client.get(f"/api/programs/grants/{grant_id}").json()
        assert pending["state"] == "revoking" and pending["label_ko"] == "회수 중"
        assert "체인 확인 중" in official.client.get(f"/programs/{pid}?grant={grant_id}").text
        node.request("evm_mine", [])
    finally:
        node.request("evm_setAutomine", [True])
    done = official.client.get(f"/api/programs/grants/{grant_id}").json()
    assert done["state"] == "revoked" and _revocations(platform, grant_id) == 1
