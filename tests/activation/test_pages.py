"""The /activate page (HTML form with CSRF) and the links to it from /login and /."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

from busanchain.accounts.sessions import SESSION_COOKIE
from tests.activation.conftest import NEW_PASSWORD, Resident, World, client_at, snapshot

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _form(resident: Resident, **changes: str) -> dict[str, str]:
    fields = {
        "resident_number": resident.number,
        "phone": resident.phone,
        "username": "minsu",
        "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
    }
    fields.update(changes)
    return fields


def _submit(client: TestClient, fields: dict[str, str], lang: str = "ko") -> Response:
    page = client.get("/activate", params={"lang": lang})
    token = CSRF_RE.search(page.text)
    assert token is not None, page.text
    return client.post(
        "/activate",
        data={**fields, "csrf_token": token.group(1)},
        params={"lang": lang},
        follow_redirects=False,
    )


def test_the_form_is_korean_first_with_english_on_request(client: TestClient) -> None:
    korean = client.get("/activate")
    assert korean.status_code == 200
    assert "수당 지갑 활성화" in korean.text and 'name="resident_number"' in korean.text
    assert 'inputmode="numeric"' in korean.text and 'type="tel"' in korean.text
    english = client.get("/activate", params={"lang": "en"})
    assert "Activate your allowance wallet" in english.text


def test_activating_through_the_form_logs_in_and_opens_the_wallet(
    world: World, client: TestClient
) -> None:
    answer = _submit(client, _form(world.alice))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/wallet"
    assert SESSION_COOKIE in client.cookies
    wallet = client.get("/wallet")
    assert wallet.status_code == 200 and "/login" not in str(wallet.url)
    assert "내 지갑" in wallet.text


def test_a_mismatch_shows_one_message_and_does_not_echo_the_number(
    world: World, client: TestClient
) -> None:
    before = snapshot(world.context)
    answer = _submit(client, _form(world.alice, phone="010-0000-0000"))
    assert answer.status_code == 401
    text = answer.text
    assert "일치하지 않습니다" in text and world.alice.number not in text
    assert 'value="minsu"' in text  # the username is kept for the next try
    assert snapshot(world.context) == before


def test_form_input_errors_are_explained_in_the_visitors_language(
    world: World, client: TestClient
) -> None:
    short = _submit(client, _form(world.alice, resident_number="900101-12"))
    assert short.status_code == 422
    assert "주민등록번호 13자리" in short.text
    phone = _submit(client, _form(world.alice, phone="hello"), lang="en")
    assert phone.status_code == 422
    assert "Korean mobile number" in phone.text
    confirm = _submit(client, _form(world.alice, password_confirm="something else"))
    assert confirm.status_code == 422
    assert "비밀번호 확인이 일치하지 않습니다" in confirm.text


def test_the_form_is_locked_after_five_failures(world: World, client: TestClient) -> None:
    for _ in range(5):
        wrong = _submit(client, _form(world.bob, phone="010-0000-0000"))
        assert wrong.status_code == 401
    locked = _submit(client, _form(world.bob))
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "15분" in locked.text


def test_a_post_without_the_csrf_token_is_refused(world: World, client: TestClient) -> None:
    client.get("/activate")
    answer = client.post("/activate", data=_form(world.alice), follow_redirects=False)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_login_and_home_link_to_activation_for_visitors(world: World, client: TestClient) -> None:
    assert 'href="/activate"' in client.get("/login").text
    assert 'href="/activate"' in client.get("/").text
    assert _submit(client, _form(world.alice)).status_code == 303
    assert 'href="/activate"' not in client.get("/").text  # logged in: no hand-over link
    other = client_at(world.context, "10.0.0.7")
    assert 'href="/activate"' in other.get("/").text
