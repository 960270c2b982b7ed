"""Role grants: only admins (with a TOTP-verified session); the user's sessions end."""

from __future__ import annotations

from fastapi.testclient import TestClient

from busanchain.accounts.service import AccountService
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from tests.accounts.conftest import admin_client, csrf_headers, login, make_user, new_client


def test_admin_grants_and_revokes_roles(context: PlatformContext, accounts: AccountService) -> None:
    admin = admin_client(context, accounts, "root")
    uid = make_user(accounts, "ulla")
    user = new_client(context)
    login(user, "ulla")
    response = admin.post(
        f"/api/accounts/{uid}/roles",
        json={"grant": ["auditor", "merchant"], "revoke": ["citizen"]},
        headers=csrf_headers(admin),
    )
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["auditor", "merchant"]
    # Privilege change: the user's old session is gone; a new login sees the new roles.
    assert user.get("/api/accounts/me").status_code == 401
    assert login(user, "ulla")["user"]["roles"] == ["auditor", "merchant"]


def test_non_admins_cannot_grant(context: PlatformContext, accounts: AccountService) -> None:
    uid = make_user(accounts, "vic")
    for role in (Role.CITIZEN, Role.OFFICIAL, Role.AUDITOR, Role.DEVELOPER):
        client = new_client(context)
        make_user(accounts, f"x-{role.value}", role)
        login(client, f"x-{role.value}")
        response = client.post(
            f"/api/accounts/{uid}/roles", json={"grant": ["admin"]}, headers=csrf_headers(client)
        )
        assert response.status_code == 403, role
    # The target still holds only citizen:
    admin = admin_client(context, accounts, "root")
    me = admin.get(f"/api/accounts/{uid}").json()
    assert me["held_roles"] == ["citizen"]


def test_admin_without_totp_session_cannot_grant(
    context: PlatformContext, accounts: AccountService
) -> None:
    make_user(accounts, "half-admin", Role.ADMIN)
    uid = make_user(accounts, "wes")
    client = new_client(context)
    login(client, "half-admin")
    response = client.post(
        f"/api/accounts/{uid}/roles", json={"grant": ["official"]}, headers=csrf_headers(client)
    )
    assert response.status_code == 403


def test_grant_to_unknown_user_and_bad_roles(
    context: PlatformContext, accounts: AccountService
) -> None:
    admin = admin_client(context, accounts, "root")
    headers = csrf_headers(admin)
    unknown = admin.post("/api/accounts/999999/roles", json={"grant": ["studio"]}, headers=headers)
    assert unknown.status_code == 404
    bad = admin.post("/api/accounts/1/roles", json={"grant": ["king"]}, headers=headers)
    assert bad.status_code == 422
    huge = admin.post(f"/api/accounts/{10**30}/roles", json={"grant": []}, headers=headers)
    assert huge.status_code == 422
    me_id = admin.get("/api/accounts/me").json()["user"]["id"]
    self_revoke = admin.post(
        f"/api/accounts/{me_id}/roles", json={"revoke": ["admin"]}, headers=headers
    )
    assert self_revoke.status_code == 409


def test_anonymous_grant_is_401(app_client: TestClient) -> None:
    response = app_client.post("/api/accounts/1/roles", json={"grant": ["admin"]})
    assert response.status_code == 401
