"""DigitalWon API: issue and transfer with idempotency, over real anvil and a real database."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from busanchain.accounts.sessions import SESSION_COOKIE
from busanchain.chain.client import ChainClient
from busanchain.domain.roles import Role
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.token.conftest import Actor, actor
from tests.web.support import serve


def _key() -> str:
    return f"test-{uuid.uuid4().hex}"


def _issue(official: Actor, to: str, amount: int, ref: str, key: str | None = None) -> Any:
    headers = official.headers | {"Idempotency-Key": key or _key()}
    body = {"to": to, "amount": amount, "deposit_reference": ref}
    return official.client.post("/api/token/issuances", json=body, headers=headers)


def _balance(client: Any, address: str) -> int:
    response = client.get(f"/api/token/balances/{address}")
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def _entries(context: PlatformContext) -> int:
    with context.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxEntry)) or 0)


def test_official_issues_to_citizen(official: Actor, citizen: Actor) -> None:
    response = _issue(official, citizen.address, 300_000, "dep-1")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"
    assert _balance(citizen.client, citizen.address) == 300_000


def test_citizen_may_not_issue(citizen: Actor, platform: PlatformContext) -> None:
    before = _entries(platform)
    response = _issue(citizen, citizen.address, 1, "dep-x")
    assert response.status_code == 403
    assert _entries(platform) == before


def test_issue_requires_idempotency_key(official: Actor, citizen: Actor) -> None:
    body = {"to": citizen.address, "amount": 5, "deposit_reference": "dep-2"}
    response = official.client.post("/api/token/issuances", json=body, headers=official.headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["error"]["message"]


def test_same_key_replays_and_other_body_is_refused(
    official: Actor, citizen: Actor, platform: PlatformContext
) -> None:
    key = _key()
    first = _issue(official, citizen.address, 1_000, "dep-3", key)
    second = _issue(official, citizen.address, 1_000, "dep-3", key)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    entries = _entries(platform)
    other = _issue(official, citizen.address, 2_000, "dep-3", key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert _entries(platform) == entries
    assert _balance(citizen.client, citizen.address) == 1_000


def test_gasless_transfer_from_custodial_wallet(
    official: Actor, citizen: Actor, merchant: Actor, platform: PlatformContext
) -> None:
    assert _issue(official, citizen.address, 50_000, "dep-4").status_code == 200
    headers = citizen.headers | {"Idempotency-Key": _key()}
    body = {"to": merchant.address, "amount": 12_345}
    response = citizen.client.post("/api/token/transfers", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert _balance(citizen.client, citizen.address) == 50_000 - 12_345
    assert _balance(citizen.client, merchant.address) == 12_345
    client = ChainClient(platform.settings.node_rpc_url)
    eth = int(client.request("eth_getBalance", [citizen.address, "latest"]), 16)
    assert eth == 0  # the citizen never needed gas


def test_overdraft_is_refused_with_reason_and_no_state(
    citizen: Actor, merchant: Actor, platform: PlatformContext
) -> None:
    before = _entries(platform)
    headers = citizen.headers | {"Idempotency-Key": _key()}
    body = {"to": merchant.address, "amount": 10}
    response = citizen.client.post("/api/token/transfers", json=body, headers=headers)
    assert response.status_code == 422
    assert "ERC20InsufficientBalance" in response.json()["error"]["message"]
    assert _entries(platform) == before


def test_bad_inputs_get_4xx(official: Actor, citizen: Actor, platform: PlatformContext) -> None:
    before = _entries(platform)
    bad_bodies: list[dict[str, Any]] = [
        {"to": "0x1234", "amount": 1, "deposit_reference": "a"},
        # not hex (the last digit replaced: an address may contain no "a" to replace)
        {"to": citizen.address[:-1] + "g", "amount": 1, "deposit_reference": "a"},
        {"to": citizen.address, "amount": -5, "deposit_reference": "a"},
        {"to": citizen.address, "amount": 10**40, "deposit_reference": "a"},
        {"to": citizen.address, "amount": "12", "deposit_reference": "a"},
        {"to": citizen.address, "amount": 1, "deposit_reference": "한글 참조"},
        {"to": citizen.address, "amount": 1, "deposit_reference": "a", "extra": 1},
    ]
    for body in bad_bodies:
        headers = official.headers | {"Idempotency-Key": _key()}
        response = official.client.post("/api/token/issuances", json=body, headers=headers)
        assert 400 <= response.status_code < 500, (body, response.text)
    assert _entries(platform) == before


def test_operation_status_is_private(
    official: Actor, citizen: Actor, platform: PlatformContext
) -> None:
    response = _issue(official, citizen.address, 7, "dep-5")
    operation_id = response.json()["operation_id"]
    mine = official.client.get(f"/api/token/operations/{operation_id}")
    assert mine.status_code == 200 and mine.json()["status"] == "confirmed"
    other = citizen.client.get(f"/api/token/operations/{operation_id}")
    assert other.status_code == 404


def test_same_key_from_16_threads_has_one_effect(
    official: Actor, citizen: Actor, platform: PlatformContext
) -> None:
    key = _key()
    body = {"to": citizen.address, "amount": 777, "deposit_reference": "dep-concurrent"}
    headers = official.headers | {"Idempotency-Key": key}
    cookies = {SESSION_COOKIE: official.client.cookies[SESSION_COOKIE]}
    before = _entries(platform)
    statuses: list[int] = []
    lock = threading.Lock()
    with serve(create_app(platform)) as url:

        def worker(n: int) -> None:
            with httpx.Client(base_url=url, cookies=cookies, timeout=60) as http:
                for _ in range(n):
                    r = http.post("/api/token/issuances", json=body, headers=headers)
                    with lock:
                        statuses.append(r.status_code)

        threads = [threading.Thread(target=worker, args=(13 if i < 8 else 12,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(statuses) == 200
    assert set(statuses) <= {200, 202}, statuses
    assert _entries(platform) == before + 1
    assert _balance(citizen.client, citizen.address) == 777


def test_anonymous_transfer_is_refused(platform: PlatformContext, citizen: Actor) -> None:
    anonymous = actor(platform, "someone", Role.CITIZEN).client
    anonymous.cookies.clear()
    response = anonymous.post(
        "/api/token/transfers",
        json={"to": citizen.address, "amount": 1},
        headers={"Idempotency-Key": _key()},
    )
    assert response.status_code in (401, 403)
