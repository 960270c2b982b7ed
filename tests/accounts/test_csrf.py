"""CSRF: session-bound tokens for logged-in requests, signed double-submit for anonymous forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from busanchain.accounts.sessions import ANON_CSRF_COOKIE, SESSION_COOKIE
from tests.accounts.conftest import PASSWORD, signup


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def test_cookie_authenticated_json_needs_the_header(app_client: TestClient) -> None:
    csrf = signup(app_client, "alice")["csrf_token"]
    body = {"name": "Alice"}
    uid = app_client.get("/api/accounts/me").json()["user"]["id"]
    missing = app_client.patch(f"/api/accounts/{uid}", json=body)
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "csrf_failed"
    wrong = app_client.patch(f"/api/accounts/{uid}", json=body, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    ok = app_client.patch(f"/api/accounts/{uid}", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert ok.json()["name"] == "Alice"


def test_token_is_tied_to_the_session(app_client: TestClient) -> None:
    csrf_a = signup(app_client, "bob")["csrf_token"]
    other = TestClient(app_client.app)
    signup(other, "bobby")
    stolen = other.post("/api/accounts/logout", headers={"X-CSRF-Token": csrf_a})
    assert stolen.status_code == 403
    assert other.get("/api/accounts/me").status_code == 200


def test_logout_form_without_token_is_refused(app_client: TestClient) -> None:
    signup(app_client, "carol")
    refused = app_client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert app_client.get("/api/accounts/me").status_code == 200
    token = _form_token(app_client.get("/account").text)
    done = app_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert app_client.get("/api/accounts/me").status_code == 401


def test_anonymous_login_form_uses_signed_double_submit(app_client: TestClient) -> None:
    signup(TestClient(app_client.app), "dave")
    page = app_client.get("/login")
    token = _form_token(page.text)
    assert app_client.cookies.get(ANON_CSRF_COOKIE) == token
    form = {"login": "dave", "password": PASSWORD}
    no_token = app_client.post("/login", data=form, follow_redirects=False)
    assert no_token.status_code == 403
    forged = app_client.post(
        "/login", data={**form, "csrf_token": "abc.def"}, follow_redirects=False
    )
    assert forged.status_code == 403
    ok = app_client.post("/login", data={**form, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    assert SESSION_COOKIE in app_client.cookies


def test_anonymous_non_json_post_needs_a_token(app_client: TestClient) -> None:
    # A cross-site "simple" request (text/plain or no type) must not reach the JSON login.
    body = '{"login": "x", "password": "y"}'
    plain = app_client.post(
        "/api/accounts/login", content=body, headers={"content-type": "text/plain"}
    )
    assert plain.status_code == 403
    untyped = app_client.post("/api/accounts/login", content=body)
    assert untyped.status_code == 403
    as_json = app_client.post(
        "/api/accounts/login", content=body, headers={"content-type": "application/json"}
    )
    assert as_json.status_code == 401


def test_multipart_form_token_is_read(app_client: TestClient) -> None:
    signup(app_client, "erin")
    token = _form_token(app_client.get("/account").text)
    response = app_client.post(
        "/logout", files={"csrf_token": (None, token)}, follow_redirects=False
    )
    assert response.status_code == 303
