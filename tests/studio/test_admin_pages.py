"""The admins' studio review page (/admin/studios) over HTTP: who may open it, what a pending
studio shows (never the whole business number), and that deciding from the page moves the
studio and its MINTER_ROLE on the real chain."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from busanchain.accounts.service import account_service_for
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.studio.service import MINTER_ROLE, StudioService
from busanchain.web.app import create_app
from tests.accounts.conftest import login, make_user
from tests.merchants.conftest import bizno
from tests.token.conftest import Actor, actor, platform  # noqa: F401 (fixture)

PAGE = "/admin/studios"
BIZNO = "515000888"


@pytest.fixture
def people(platform: PlatformContext) -> Iterator[dict[str, Actor]]:  # noqa: F811 (fixture)
    cast = {
        "studio": actor(platform, "review-studio", Role.STUDIO),
        "admin": actor(platform, "review-admin", Role.ADMIN),
        "citizen": actor(platform, "review-citizen", Role.CITIZEN),
    }
    yield cast
    for a in cast.values():
        a.client.close()


@pytest.fixture
def pending_id(platform: PlatformContext, people: dict[str, Actor]) -> int:  # noqa: F811
    """A studio registered by "review-studio", waiting for review."""
    studio = StudioService(platform).register(
        people["studio"].user_id, "동래 사진관", "Dongnae Photo", bizno(BIZNO), 500
    )
    return int(studio["id"])


def _html(client: TestClient, url: str = PAGE) -> tuple[int, str]:
    answer = client.get(url, headers={"Accept": "text/html"}, follow_redirects=False)
    return answer.status_code, answer.text


def _row(html: str, testid: str, studio_id: int) -> str:
    """The page's table row of one studio (`waiting-row` or `decided-row`), or ''."""
    found = re.search(
        rf'<tr data-testid="{testid}" data-id="{studio_id}">(.*?)</tr>', html, re.DOTALL
    )
    return found.group(1) if found else ""


def _decide(admin: Actor, studio_id: int, action: str, note: str | None = None) -> dict[str, str]:
    """What the page's buttons send: the JSON API with the page's CSRF token."""
    body = None if action == "approve" else {"note": note}
    answer = admin.client.post(
        f"/api/studio/studios/{studio_id}/{action}", json=body, headers=admin.headers
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_only_admins_in_a_totp_session_open_the_page(people: dict[str, Actor]) -> None:
    visitor = TestClient(people["citizen"].client.app)
    status, _ = _html(visitor)
    assert status == 303
    assert visitor.get(PAGE, follow_redirects=False).headers["location"] == "/login"
    for name in ("citizen", "studio"):
        status, text = _html(people[name].client)
        assert status == 403 and "<html" in text, name
    status, text = _html(people["admin"].client)
    assert status == 200 and "사진관 심사" in text
    assert 'href="/admin/studios"' in text and 'href="/admin/moderation"' in text  # nav


def test_an_admin_without_totp_is_refused(platform: PlatformContext) -> None:  # noqa: F811
    make_user(account_service_for(platform), "half-admin", Role.ADMIN)
    with TestClient(create_app(platform)) as client:
        login(client, "half-admin")
        status, text = _html(client)
        assert status == 403 and "OTP" in text
        assert 'href="/admin/studios"' not in text


def test_pending_studio_shows_name_masked_number_owner_and_date(
    people: dict[str, Actor], pending_id: int
) -> None:
    status, text = _html(people["admin"].client)
    assert status == 200
    row = _row(text, "waiting-row", pending_id)
    assert "동래 사진관" in row and "Dongnae Photo" in row
    assert "***-**-**" + bizno(BIZNO).replace("-", "")[-3:] in row
    assert bizno(BIZNO) not in text and bizno(BIZNO).replace("-", "") not in text
    assert "<code>review-studio</code>" in row
    assert re.search(r"\d{4}-\d{2}-\d{2}", row)
    assert 'data-status="pending"' in row and 'data-action="approve"' in row
    assert 'data-action="reject"' in row
    status, english = _html(people["admin"].client, PAGE + "?lang=en")
    assert status == 200 and "Studio review" in english and "Waiting for approval" in english


def test_approving_from_the_page_grants_minter_role_on_chain(
    platform: PlatformContext,  # noqa: F811 (fixture)
    people: dict[str, Actor],
    pending_id: int,
) -> None:
    service = StudioService(platform)
    signing = service.my_studio(people["studio"].user_id)["signing_address"]
    assert not service._read("hasRole", [MINTER_ROLE, signing])
    decided = _decide(people["admin"], pending_id, "approve")
    assert decided["status"] == "active"
    assert service._read("hasRole", [MINTER_ROLE, signing])
    _, text = _html(people["admin"].client)
    assert _row(text, "waiting-row", pending_id) == ""
    row = _row(text, "decided-row", pending_id)
    assert 'data-status="active"' in row and 'data-action="suspend"' in row
    _, console = _html(people["studio"].client, "/studio")
    assert 'data-status="active"' in console

    suspended = _decide(people["admin"], pending_id, "suspend", "계약 위반 / breach")
    assert suspended["status"] == "suspended"
    assert not service._read("hasRole", [MINTER_ROLE, signing])
    _, text = _html(people["admin"].client)
    row = _row(text, "decided-row", pending_id)
    assert 'data-status="suspended"' in row and "계약 위반 / breach" in row


def test_rejecting_with_a_note_puts_nothing_on_chain(
    platform: PlatformContext,  # noqa: F811 (fixture)
    people: dict[str, Actor],
    pending_id: int,
) -> None:
    service = StudioService(platform)
    signing = service.my_studio(people["studio"].user_id)["signing_address"]
    rejected = _decide(people["admin"], pending_id, "reject", "서류 미비 / papers missing")
    assert rejected["status"] == "rejected"
    assert not service._read("hasRole", [MINTER_ROLE, signing])
    _, text = _html(people["admin"].client)
    assert _row(text, "waiting-row", pending_id) == ""
    assert _row(text, "decided-row", pending_id) == ""
    _, console = _html(people["studio"].client, "/studio")
    assert "서류 미비 / papers missing" in console
    again = people["admin"].client.post(
        f"/api/studio/studios/{pending_id}/reject", json={}, headers=people["admin"].headers
    )
    assert again.status_code == 409 and again.json()["error"]["message"]
