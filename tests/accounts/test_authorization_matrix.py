"""Authorization matrix: every object endpoint, every role, every other user's session.

Only the user themself and an admin (TOTP-verified session) may touch a user's account;
every other combination must be refused, and refused without changing anything.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from httpx import Response

from busanchain.accounts.service import AccountService
from busanchain.domain.roles import SECOND_FACTOR_ROLES, Role
from busanchain.platform.context import PlatformContext
from tests.accounts.conftest import csrf_headers, enable_totp, login, make_user, new_client

Probe = Callable[[TestClient, int, dict[str, str]], Response]

PROBES: dict[str, Probe] = {
    "GET /api/accounts/{id}": lambda c, uid, h: c.get(f"/api/accounts/{uid}"),
    "PATCH /api/accounts/{id}": lambda c, uid, h: c.patch(
        f"/api/accounts/{uid}", json={"name": "Intruder"}, headers=h
    ),
    "POST /api/accounts/{id}/roles": lambda c, uid, h: c.post(
        f"/api/accounts/{uid}/roles", json={"grant": ["auditor"]}, headers=h
    ),
}


def _session(context: PlatformContext, accounts: AccountService, role: Role) -> TestClient:
    make_user(accounts, f"actor-{role.value}", role)
    client = new_client(context)
    csrf = login(client, f"actor-{role.value}")["csrf_token"]
    if role in SECOND_FACTOR_ROLES:
        enable_totp(client, csrf)
    return client


def test_no_cross_user_access(context: PlatformContext, accounts: AccountService) -> None:
    targets = {role: make_user(accounts, f"target-{role.value}", role) for role in Role}
    actors = {role: _session(context, accounts, role) for role in Role}
    actors_ids = {
        role: client.get("/api/accounts/me").json()["user"]["id"] for role, client in actors.items()
    }
    anonymous = new_client(context)
    violations: list[str] = []
    tried = 0
    # The admin goes last: its role grants end the target's sessions, actors included.
    order = [(r, c) for r, c in actors.items() if r is not Role.ADMIN]
    order += [(None, anonymous), (Role.ADMIN, actors[Role.ADMIN])]
    for role, client in order:
        headers = csrf_headers(client)
        for target_role, target_id in [*targets.items(), *actors_ids.items()]:
            if role is not None and target_id == actors_ids[role]:
                continue
            for name, probe in PROBES.items():
                tried += 1
                status = probe(client, target_id, headers).status_code
                allowed = role is Role.ADMIN
                if status < 400 and not allowed:
                    violations.append(f"{role} -> {target_role} user: {name} = {status}")
                if status >= 400 and allowed:
                    violations.append(f"admin refused: {name} on {target_role} = {status}")
                if not allowed:
                    expected = {401} if role is None else {403, 404}
                    assert status in expected, (role, name, status)
    assert tried == (7 * 13 + 14) * len(PROBES)
    assert violations == []
    # Nothing a refused request tried was written: only the admin's grants took effect.
    admin = actors[Role.ADMIN]
    for target_id in targets.values():
        profile = admin.get(f"/api/accounts/{target_id}").json()
        assert profile["name"] == "Intruder"  # the admin's PATCH, not anyone else's
    citizen_target = targets[Role.CITIZEN]
    assert "auditor" in admin.get(f"/api/accounts/{citizen_target}").json()["held_roles"]


def test_own_account_is_reachable_by_every_role(
    context: PlatformContext, accounts: AccountService
) -> None:
    for role in Role:
        client = _session(context, accounts, role)
        uid = client.get("/api/accounts/me").json()["user"]["id"]
        assert client.get(f"/api/accounts/{uid}").status_code == 200
        patched = client.patch(
            f"/api/accounts/{uid}", json={"phone": "010 1111 2222"}, headers=csrf_headers(client)
        )
        assert patched.status_code == 200, (role, patched.text)
        assert patched.json()["phone"] == "01011112222"
