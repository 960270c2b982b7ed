"""Sign-up, login, logout and session id rotation through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from busanchain.accounts.sessions import SESSION_COOKIE
from busanchain.accounts.tables import SessionRecord, UserRecord
from busanchain.db.base import utcnow
from busanchain.platform.context import PlatformContext
from tests.accounts.conftest import PASSWORD, login, signup


def _count(context: PlatformContext, model: type) -> int:
    with context.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_signup_logs_in_and_gives_a_custodial_address(app_client: TestClient) -> None:
    out = signup(app_client, "Alice", email="Alice@Example.kr")
    assert out["user"]["username"] == "alice"
    assert out["user"]["email"] == "alice@example.kr"
    assert out["user"]["roles"] == ["citizen"]
    assert out["user"]["custodial_address"].startswith("0x")
    me = app_client.get("/api/accounts/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == out["user"]["id"]


def test_cookie_is_httponly_and_lax(app_client: TestClient) -> None:
    response = app_client.post(
        "/api/accounts/signup", json={"username": "bob", "password": PASSWORD}
    )
    cookie = response.headers["set-cookie"].lower()
    assert f"{SESSION_COOKIE}=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_signup_refuses_taken_username_and_admin_roles(
    app_client: TestClient, context: PlatformContext
) -> None:
    signup(app_client, "carol")
    fresh = TestClient(app_client.app)
    again = fresh.post("/api/accounts/signup", json={"username": "CAROL", "password": PASSWORD})
    assert again.status_code == 409
    body = {"username": "mallory", "password": PASSWORD, "roles": ["admin"]}
    admin = TestClient(app_client.app).post("/api/accounts/signup", json=body)
    assert admin.status_code == 403
    assert _count(context, UserRecord) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": PASSWORD},
        {"username": "a" * 33, "password": PASSWORD},
        {"username": "한국어", "password": PASSWORD},
        {"username": "eve\u202e", "password": PASSWORD},
        {"username": "eve", "password": "short"},
        {"username": "eve", "password": "x" * 300},
        {"username": "eve", "password": PASSWORD, "email": "not-an-email"},
        {"username": "eve", "password": PASSWORD, "name": "\u0000nul"},
        {"username": "eve", "password": PASSWORD, "phone": "call me"},
        {"username": "eve", "password": PASSWORD, "birth_date": "2999-01-01"},
        {"username": "eve", "password": PASSWORD, "roles": ["emperor"]},
        {"username": "eve", "password": PASSWORD, "surprise": 1},
        {"username": ["eve"], "password": PASSWORD},
    ],
)
def test_bad_signup_input_is_422_and_leaves_nothing(
    app_client: TestClient, context: PlatformContext, body: dict[str, object]
) -> None:
    response = app_client.post("/api/accounts/signup", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert _count(context, UserRecord) == 0


def test_odd_unicode_password_and_login_never_500(app_client: TestClient) -> None:
    raw = b'{"login": "\\ud800x", "password": "\\udfff\\u0000"}'
    response = app_client.post(
        "/api/accounts/login", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    signup(app_client, "uni", password="비밀번호는길어요🙂\u00e9")
    login(app_client, "uni", password="비밀번호는길어요🙂e\u0301")  # NFC: same password


def test_login_by_username_or_email_and_wrong_password(app_client: TestClient) -> None:
    signup(app_client, "dave", email="dave@example.kr")
    assert login(TestClient(app_client.app), "DAVE")["user"]["username"] == "dave"
    assert login(TestClient(app_client.app), "dave@example.kr")["user"]["username"] == "dave"
    other = TestClient(app_client.app)
    wrong = other.post("/api/accounts/login", json={"login": "dave", "password": "nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    unknown = other.post("/api/accounts/login", json={"login": "nobody", "password": PASSWORD})
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "invalid_credentials"


def test_login_rotates_the_session_id(app_client: TestClient, context: PlatformContext) -> None:
    signup(app_client, "erin")
    first = app_client.cookies.get(SESSION_COOKIE)
    login(app_client, "erin")
    second = app_client.cookies.get(SESSION_COOKIE)
    assert first and second and first != second
    stale = TestClient(app_client.app, cookies={SESSION_COOKIE: first})
    assert stale.get("/api/accounts/me").status_code == 401
    assert app_client.get("/api/accounts/me").status_code == 200
    assert _count(context, SessionRecord) == 1  # the old session row is gone


def test_logout_deletes_the_session(app_client: TestClient, context: PlatformContext) -> None:
    csrf = signup(app_client, "frank")["csrf_token"]
    token = app_client.cookies.get(SESSION_COOKIE)
    response = app_client.post("/api/accounts/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    assert _count(context, SessionRecord) == 0
    replayed = TestClient(app_client.app, cookies={SESSION_COOKIE: token or ""})
    assert replayed.get("/api/accounts/me").status_code == 401


def test_anonymous_me_is_401(app_client: TestClient) -> None:
    response = app_client.get("/api/accounts/me", params={"lang": "en"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Please log in."


def test_idle_and_absolute_expiry(app_client: TestClient, context: PlatformContext) -> None:
    signup(app_client, "gina")
    assert app_client.get("/api/accounts/me").status_code == 200
    long_ago = utcnow() - timedelta(hours=1)
    with context.unit_of_work() as session:
        session.execute(update(SessionRecord).values(last_seen_at=long_ago))
    assert app_client.get("/api/accounts/me").status_code == 401
    assert _count(context, SessionRecord) == 0
    login(app_client, "gina")
    assert app_client.get("/api/accounts/me").status_code == 200
    with context.unit_of_work() as session:
        session.execute(update(SessionRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert app_client.get("/api/accounts/me").status_code == 401
