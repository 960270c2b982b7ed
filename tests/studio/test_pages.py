"""The studio pages over HTTP: who may open them, the one-time hand-over, and that the claim
page never shows a private photo (its CIDs or image URLs) to someone who does not own it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.studio.service import StudioService
from busanchain.web.app import create_app
from tests.studio.studio_support import StudioWorld, approved_studio, upload_one
from tests.token.conftest import Actor, actor, platform  # noqa: F401 (fixture)

HANDOVER_CODE = re.compile(r"/claim/([0-9a-f]{64})")


@pytest.fixture
def people(platform: PlatformContext) -> Iterator[dict[str, Actor]]:  # noqa: F811 (fixture)
    cast = {
        "studio": actor(platform, "studio-pages", Role.STUDIO),
        "admin": actor(platform, "admin-pages", Role.ADMIN),
        "citizen": actor(platform, "citizen-pages", Role.CITIZEN),
        "other": actor(platform, "other-pages", Role.CITIZEN),
    }
    yield cast
    for a in cast.values():
        a.client.close()


@pytest.fixture
def world(platform: PlatformContext, people: dict[str, Actor]) -> StudioWorld:  # noqa: F811
    service = StudioService(platform)
    studio, admin = people["studio"], people["admin"]
    return approved_studio(service, "pages", "222333444", admin.user_id, studio.user_id)


def _html(a: Actor | TestClient, url: str) -> tuple[int, str]:
    client = a.client if isinstance(a, Actor) else a
    answer = client.get(url, headers={"Accept": "text/html"}, follow_redirects=False)
    return answer.status_code, answer.text


def _issue(studio: Actor, session_id: int, photo_id: int, key: str) -> str:
    """Submit the session page's issue form (with the page's CSRF token); the hand-over page."""
    form = {"csrf_token": studio.headers["X-CSRF-Token"], "issue_key": key, "photo_id": photo_id}
    answer = studio.client.post(f"/studio/sessions/{session_id}/issue", data=form)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.text


def test_studio_pages_need_the_studio_role(people: dict[str, Actor]) -> None:
    visitor = TestClient(people["citizen"].client.app)
    for url in ("/studio", "/studio/sessions/new", "/studio/sessions/1"):
        status, _ = _html(visitor, url)
        assert status == 303, url
        status, text = _html(people["citizen"], url)
        assert status == 403 and "<html" in text, url
    status, text = _html(people["studio"], "/studio")
    assert status == 200 and 'id="register-form"' in text and "사진관 등록" in text
    status, _ = _html(people["studio"], "/studio/sessions/new")
    assert status == 303  # no studio yet: register first


def test_console_shows_status_photographers_and_sessions(
    platform: PlatformContext,  # noqa: F811 (fixture)
    people: dict[str, Actor],
    world: StudioWorld,
) -> None:
    status, text = _html(people["studio"], "/studio")
    assert status == 200
    assert 'data-status="active"' in text and "pages 사진관" in text
    assert f'href="/studio/sessions/{world.session_id}"' in text and "S-1" in text
    status, english = _html(people["studio"], "/studio?lang=en")
    assert status == 200 and "Approved" in english and "Photographers" in english
    status, page = _html(people["studio"], f"/studio/sessions/{world.session_id}")
    assert status == 200 and "upload-progress" in page and 'name="issue_key"' in page
    other_studio = actor(platform, "studio-b", Role.STUDIO)
    status, _ = _html(other_studio, f"/studio/sessions/{world.session_id}")
    other_studio.client.close()
    assert status == 404  # another studio's session is not revealed


def test_my_photos_needs_login(people: dict[str, Actor]) -> None:
    visitor = TestClient(people["citizen"].client.app)
    status, _ = _html(visitor, "/me/photos")
    assert status == 303
    status, text = _html(people["citizen"], "/me/photos")
    assert status == 200 and 'data-testid="no-photos"' in text and "내 사진" in text


def test_handover_shows_the_code_once_with_qr_sms_and_mail(
    platform: PlatformContext,  # noqa: F811 (fixture)
    people: dict[str, Actor],
    world: StudioWorld,
) -> None:
    studio = people["studio"]
    photo = upload_one(StudioService(platform), world, 301)
    html = _issue(studio, world.session_id, int(str(photo["id"])), "page-key-301")
    codes = set(HANDOVER_CODE.findall(html))
    assert len(codes) == 1, html
    code = codes.pop()
    assert 'data-testid="claim-qr"' in html and "<svg" in html
    sms = re.search(r'href="(sms:\?&amp;body=[^"]+)"', html)
    mail = re.search(r'href="(mailto:\?subject=[^"&]*&amp;body=[^"]+)"', html)
    assert sms and mail, html
    assert unquote(sms.group(1)).endswith(f"/claim/{code}")
    assert unquote(mail.group(1)).endswith(f"/claim/{code}")
    assert "http://testserver/claim/" + code in html  # the full URL, for the QR and the links
    again = _issue(studio, world.session_id, int(str(photo["id"])), "page-key-301")
    assert 'data-testid="already-shown"' in again and code not in again
    assert not HANDOVER_CODE.search(again)


def test_issue_form_refuses_bad_input_with_a_4xx(
    people: dict[str, Actor], world: StudioWorld
) -> None:
    studio = people["studio"]
    csrf = studio.headers["X-CSRF-Token"]
    missing = studio.client.post(
        f"/studio/sessions/{world.session_id}/issue",
        data={"csrf_token": csrf, "issue_key": "k" * 16},
        headers={"Accept": "text/html"},
    )
    assert missing.status_code == 422
    unknown = _issue(studio, world.session_id, 999_999, "page-key-unknown")
    assert 'data-testid="issue-error"' in unknown and "해당 사진이 없습니다" in unknown
    for action, key in (("issue", "issue_key"), ("reissue", "reissue_key")):
        past_int = studio.client.post(  # past the 32-bit key: refused before the database
            f"/studio/sessions/{world.session_id}/{action}",
            data={"csrf_token": csrf, key: "k" * 16, "photo_id": 2**31},
            headers={"Accept": "text/html"},
        )
        assert past_int.status_code == 422, (action, past_int.status_code)
    no_token = studio.client.post(
        f"/studio/sessions/{world.session_id}/issue",
        data={"issue_key": "k" * 16, "photo_id": 1},
    )
    assert no_token.status_code == 403


def test_claim_page_never_leaks_the_private_photo(
    platform: PlatformContext,  # noqa: F811 (fixture)
    people: dict[str, Actor],
    world: StudioWorld,
) -> None:
    studio, citizen, other = people["studio"], people["citizen"], people["other"]
    service = StudioService(platform)
    photo = upload_one(service, world, 302)
    photo_id = int(str(photo["id"]))
    secret_marks = [
        str(photo["cid"]),
        str(photo["thumb_320_cid"]),
        str(photo["thumb_1280_cid"]),
        str(photo["metadata_cid"]),
        f"/api/studio/photos/{photo_id}/image",
    ]
    code = HANDOVER_CODE.findall(_issue(studio, world.session_id, photo_id, "page-key-302"))[0]
    visitor = TestClient(create_app(platform))
    for who in (visitor, other):
        status, html = _html(who, f"/claim/{code}")
        assert status == 200 and "pages 사진관" in html
        assert 'data-testid="claim-preview"' in html
        for mark in secret_marks:
            assert mark not in html, mark
    status, html = _html(visitor, f"/claim/{code}")
    assert 'id="login-form"' in html and 'id="signup-form"' in html
    status, html = _html(citizen, f"/claim/{code}")
    assert 'id="claim-form"' in html and "내 지갑으로 받기" in html
    claimed = citizen.client.post(
        "/api/studio/claims",
        json={"code": code},
        headers=citizen.headers | {"Idempotency-Key": "claim-pages-302"},
    )
    assert claimed.status_code == 200, claimed.text
    status, mine = _html(citizen, f"/claim/{code}")
    assert 'data-testid="claim-done"' in mine and f"#photo-{photo_id}" in mine
    for who in (visitor, other, studio):
        status, html = _html(who, f"/claim/{code}")
        assert status == 200 and 'data-testid="claim-taken"' in html
        for mark in secret_marks:
            assert mark not in html, mark
    status, photos = _html(citizen, "/me/photos")
    assert f'id="photo-{photo_id}"' in photos and str(photo["thumb_320_cid"]) in photos
    assert f"/api/studio/photos/{photo_id}/image?size=original" in photos
    status, others = _html(other, "/me/photos")
    assert str(photo["cid"]) not in others


def test_claim_page_bad_and_unknown_codes_are_4xx(people: dict[str, Actor]) -> None:
    visitor = TestClient(people["citizen"].client.app)
    status, html = _html(visitor, "/claim/not-a-code")
    assert status == 422 and "16진수 64자리" in html
    status, html = _html(visitor, "/claim/" + "ab" * 32)
    assert status == 404 and "수령 코드의 사진이 없습니다" in html
    status, _ = _html(visitor, "/claim/" + "a" * 200)
    assert 400 <= status < 500
