"""Login throttling: per account and per client address, stored in the database."""

from __future__ import annotations

from fastapi.testclient import TestClient

from busanchain.accounts.service import AccountService
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.accounts.conftest import PASSWORD, make_user


def _fail(client: TestClient, login: str) -> int:
    body = {"login": login, "password": "wrong password"}
    return client.post("/api/accounts/login", json=body).status_code


def test_five_failures_lock_the_account_even_for_the_right_password(
    app_client: TestClient, accounts: AccountService, context: PlatformContext
) -> None:
    make_user(accounts, "alice")
    assert [_fail(app_client, "alice") for _ in range(5)] == [401] * 5
    right = {"login": "alice", "password": PASSWORD}
    locked = app_client.post("/api/accounts/login", json=right, params={"lang": "en"})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "login_throttled"
    assert "15 minutes" in locked.json()["error"]["message"]
    assert locked.json()["error"]["details"]["retry_after_s"] > 0
    korean = app_client.post("/api/accounts/login", json=right, params={"lang": "ko"})
    assert "15분" in korean.json()["error"]["message"]
    # Survives a restart: a new app (another worker) on the same database still refuses.
    with TestClient(create_app(context)) as restarted:
        assert restarted.post("/api/accounts/login", json=right).status_code == 429


def test_other_accounts_are_not_locked_by_one(
    app_client: TestClient, accounts: AccountService
) -> None:
    make_user(accounts, "bob")
    make_user(accounts, "carol")
    for _ in range(5):
        _fail(app_client, "bob")
    ok = app_client.post("/api/accounts/login", json={"login": "carol", "password": PASSWORD})
    assert ok.status_code == 200


def test_success_below_the_limit_resets_the_account_count(
    app_client: TestClient, accounts: AccountService
) -> None:
    make_user(accounts, "dave")
    for _ in range(4):
        _fail(app_client, "dave")
    right = {"login": "dave", "password": PASSWORD}
    assert TestClient(app_client.app).post("/api/accounts/login", json=right).status_code == 200
    assert [_fail(app_client, "dave") for _ in range(5)] == [401] * 5
    assert _fail(app_client, "dave") == 429


def test_one_client_address_spraying_many_accounts_is_throttled(
    app_client: TestClient, accounts: AccountService
) -> None:
    limit = accounts.throttle.per_client
    codes = [_fail(app_client, f"user{i}") for i in range(limit)]
    assert codes == [401] * limit
    assert _fail(app_client, "someone-else") == 429


def test_username_and_email_share_one_count(
    app_client: TestClient, accounts: AccountService
) -> None:
    make_user(accounts, "erin", email="erin@example.kr")
    codes = [_fail(app_client, "erin") for _ in range(3)]
    codes += [_fail(app_client, "erin@example.kr") for _ in range(2)]
    assert codes == [401] * 5
    right = {"login": "erin@example.kr", "password": PASSWORD}
    assert app_client.post("/api/accounts/login", json=right).status_code == 429
