"""TOTP second factor: mandatory for officials and admins, codes are single-use."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from busanchain.accounts.service import AccountService
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from tests.accounts.conftest import PASSWORD, code_at, enable_totp, login, make_user, new_client


def _login_raw(client: TestClient, name: str, code: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"login": name, "password": PASSWORD}
    if code is not None:
        body["totp_code"] = code
    response = client.post("/api/accounts/login", json=body)
    return {"status": response.status_code, **response.json()}


def test_official_role_needs_totp_to_take_effect(
    context: PlatformContext, accounts: AccountService
) -> None:
    make_user(accounts, "olga", Role.OFFICIAL)
    client = new_client(context)
    out = login(client, "olga")
    assert out["user"]["held_roles"] == ["official"]
    assert out["user"]["roles"] == []
    assert out["user"]["second_factor_required"] is True
    _, csrf = enable_totp(client, out["csrf_token"])
    me = client.get("/api/accounts/me").json()
    assert me["user"]["roles"] == ["official"]
    assert me["user"]["totp_enabled"] is True
    assert me["csrf_token"] == csrf


def test_login_requires_the_code_and_rejects_replay(
    context: PlatformContext, accounts: AccountService
) -> None:
    make_user(accounts, "adam", Role.ADMIN)
    client = new_client(context)
    secret, csrf = enable_totp(client, login(client, "adam")["csrf_token"])
    client.post("/api/accounts/logout", headers={"X-CSRF-Token": csrf})

    fresh = new_client(context)
    missing = _login_raw(fresh, "adam")
    assert missing["status"] == 401
    assert missing["error"]["code"] == "totp_required"  # type: ignore[index]
    wrong_code = "000000" if code_at(secret, 1) != "000000" else "111111"
    wrong = _login_raw(fresh, "adam", wrong_code)
    assert wrong["status"] == 401
    assert wrong["error"]["code"] == "totp_invalid"  # type: ignore[index]
    # The enrollment used the current step; the next step's code is still in the window.
    code = code_at(secret, 1)
    good = _login_raw(fresh, "adam", code)
    assert good["status"] == 200
    assert good["user"]["roles"] == ["admin"]  # type: ignore[index]
    replay = _login_raw(new_client(context), "adam", code)
    assert replay["status"] == 401
    assert replay["error"]["code"] == "totp_invalid"  # type: ignore[index]
    older = _login_raw(new_client(context), "adam", code_at(secret, 0))
    assert older["status"] == 401


def test_enroll_twice_and_confirm_without_enroll(
    app_client: TestClient, accounts: AccountService
) -> None:
    make_user(accounts, "tina")
    csrf = login(app_client, "tina")["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    early = app_client.post("/api/accounts/totp/confirm", json={"code": "123456"}, headers=headers)
    assert early.status_code == 409
    enrolled = app_client.post("/api/accounts/totp/enroll", headers=headers).json()
    assert enrolled["otpauth_uri"].startswith("otpauth://totp/busanchain:tina?secret=")
    bad = app_client.post("/api/accounts/totp/confirm", json={"code": "12ab56"}, headers=headers)
    assert bad.status_code == 422
    _, csrf = enable_totp(app_client, csrf)
    again = app_client.post("/api/accounts/totp/enroll", headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409


def test_two_step_login_page(context: PlatformContext, accounts: AccountService) -> None:
    make_user(accounts, "paula", Role.OFFICIAL)
    setup = new_client(context)
    secret, _ = enable_totp(setup, login(setup, "paula")["csrf_token"])

    browser = new_client(context)
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
    assert token
    step1 = browser.post(
        "/login",
        data={"login": "paula", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert step1.status_code == 303 and step1.headers["location"] == "/login/totp"
    assert browser.get("/api/accounts/me").status_code == 401  # not logged in yet
    page = browser.get("/login/totp")
    step_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert step_token
    wrong = browser.post("/login/totp", data={"code": "99999x", "csrf_token": step_token.group(1)})
    assert wrong.status_code == 422
    step2 = browser.post(
        "/login/totp",
        data={"code": code_at(secret, 1), "csrf_token": step_token.group(1)},
        follow_redirects=False,
    )
    assert step2.status_code == 303 and step2.headers["location"] == "/account"
    assert browser.get("/api/accounts/me").json()["user"]["roles"] == ["official"]
