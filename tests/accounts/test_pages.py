"""Account pages: sign-up, login, account and logout in Korean and English."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.accounts.conftest import PASSWORD


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_signup_page_flow(app_client: TestClient) -> None:
    page = app_client.get("/signup", params={"lang": "en"})
    assert page.status_code == 200 and "Create account" in page.text
    form = {
        "username": "pagey",
        "password": PASSWORD,
        "role": "merchant",
        "name": "부산 상인",
        "phone": "",
        "email": "",
        "birth_date": "1990-05-01",
        "csrf_token": _token(page.text),
    }
    done = app_client.post("/signup", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    account = app_client.get("/account")
    assert "pagey" in account.text and "Merchant" in account.text
    assert re.search(r'data-testid="custodial-address">0x[0-9a-fA-F]{40}<', account.text)
    assert "My account" in account.text  # the English chosen on the first page is kept


def test_signup_page_shows_errors_in_the_form(app_client: TestClient) -> None:
    token = _token(app_client.get("/signup").text)
    bad = app_client.post(
        "/signup", data={"username": "x", "password": "1", "role": "admin", "csrf_token": token}
    )
    assert bad.status_code == 422
    assert 'class="alert"' in bad.text and 'name="username"' in bad.text
    admin = app_client.post(
        "/signup",
        data={"username": "wannabe", "password": PASSWORD, "role": "admin", "csrf_token": token},
    )
    assert admin.status_code == 403


def test_login_page_wrong_password_and_account_redirect(app_client: TestClient) -> None:
    assert app_client.get("/account", follow_redirects=False).headers["location"] == "/login"
    token = _token(app_client.get("/login").text)
    wrong = app_client.post(
        "/login",
        data={"login": "ghost", "password": "nope", "csrf_token": token},
        params={"lang": "en"},
    )
    assert wrong.status_code == 401 and "The login or the password is wrong." in wrong.text
    assert app_client.get("/login/totp", follow_redirects=False).status_code == 303


def test_totp_enrollment_pages(app_client: TestClient) -> None:
    import pyotp

    token = _token(app_client.get("/signup").text)
    app_client.post(
        "/signup", data={"username": "otp-page", "password": PASSWORD, "csrf_token": token}
    )
    token = _token(app_client.get("/account").text)
    enroll = app_client.post("/account/totp/enroll", data={"csrf_token": token})
    assert enroll.status_code == 200
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', enroll.text)
    assert secret
    wrong = app_client.post("/account/totp/confirm", data={"code": "abc", "csrf_token": token})
    assert wrong.status_code == 422
    ok = app_client.post(
        "/account/totp/confirm",
        data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf_token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert 'class="ok"' in app_client.get("/account").text
