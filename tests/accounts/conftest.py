"""Fixtures for accounts tests: a web client on a fresh platform, and helpers to sign up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from busanchain.accounts.service import AccountService, account_service_for
from busanchain.accounts.sessions import SESSION_COOKIE
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def app_client(context: PlatformContext) -> Iterator[TestClient]:
    """A client of the whole web app; cookies persist between its requests."""
    with TestClient(create_app(context)) as client:
        yield client


@pytest.fixture
def accounts(context: PlatformContext, app_client: TestClient) -> AccountService:
    """The AccountService the app uses."""
    return account_service_for(context)


def new_client(context: PlatformContext) -> TestClient:
    """Another browser (own cookie jar) on the same platform."""
    return TestClient(create_app(context))


def csrf_headers(client: TestClient) -> dict[str, str]:
    """The X-CSRF-Token header for a client that is logged in (empty for visitors)."""
    if SESSION_COOKIE not in client.cookies:
        return {}
    me = client.get("/api/accounts/me")
    return {"X-CSRF-Token": me.json()["csrf_token"]} if me.status_code == 200 else {}


def signup(client: TestClient, username: str, **extra: Any) -> dict[str, Any]:
    """Sign up through the API and return the JSON answer (asserting 201)."""
    body = {"username": username, "password": PASSWORD, **extra}
    response = client.post("/api/accounts/signup", json=body, headers=csrf_headers(client))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def login(client: TestClient, login_name: str, **extra: Any) -> dict[str, Any]:
    """Log in through the API and return the JSON answer (asserting 200)."""
    body = {"login": login_name, "password": PASSWORD, **extra}
    response = client.post("/api/accounts/login", json=body, headers=csrf_headers(client))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def code_at(secret: str, offset_steps: int = 0) -> str:
    """The TOTP code for the current time step plus `offset_steps`."""
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def enable_totp(client: TestClient, csrf: str) -> tuple[str, str]:
    """Enroll and confirm TOTP for the client's user; returns (secret, new csrf token)."""
    enrolled = client.post("/api/accounts/totp/enroll", headers={"X-CSRF-Token": csrf})
    assert enrolled.status_code == 200, enrolled.text
    secret = enrolled.json()["secret"]
    confirmed = client.post(
        "/api/accounts/totp/confirm",
        json={"code": code_at(secret)},
        headers={"X-CSRF-Token": csrf},
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["csrf_token"]


def make_user(
    accounts: AccountService, username: str, *roles: Role, email: str | None = None
) -> int:
    """Create a user directly through the service (any roles, as an admin tool would)."""
    return accounts.create_user(username, PASSWORD, roles or (Role.CITIZEN,), email=email).id


def admin_client(context: PlatformContext, accounts: AccountService, username: str) -> TestClient:
    """A client logged in as a new admin with TOTP on (so admin powers are in force)."""
    make_user(accounts, username, Role.ADMIN)
    client = new_client(context)
    csrf = login(client, username)["csrf_token"]
    enable_totp(client, csrf)
    return client
