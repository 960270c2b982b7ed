"""Authorization matrix for the DigitalWon API: every role, other users and anonymous."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.token.conftest import Actor, actor

MAY_READ_ALL = {Role.OFFICIAL, Role.AUDITOR, Role.ADMIN}
MAY_ISSUE = {Role.OFFICIAL, Role.ADMIN}


def test_operation_and_issue_access_by_every_role(platform: PlatformContext) -> None:
    actors = {role: actor(platform, f"matrix-{role.value}", role) for role in Role}
    owner = actor(platform, "matrix-owner", Role.CITIZEN)
    recipient = actors[Role.MERCHANT].address

    # the owner's own transfer (a refused overdraft is not an operation, so fund first)
    official = actors[Role.OFFICIAL]
    funded = official.client.post(
        "/api/token/issuances",
        json={"to": owner.address, "amount": 100, "deposit_reference": "matrix-fund"},
        headers=official.headers | {"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
    )
    assert funded.status_code == 200, funded.text
    sent = owner.client.post(
        "/api/token/transfers",
        json={"to": recipient, "amount": 40},
        headers=owner.headers | {"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
    )
    assert sent.status_code == 200, sent.text
    operation = sent.json()["operation_id"]

    cross_user = 0
    assert owner.client.get(f"/api/token/operations/{operation}").status_code == 200
    for role, other in actors.items():
        answer = other.client.get(f"/api/token/operations/{operation}")
        allowed = role in MAY_READ_ALL
        assert answer.status_code == (200 if allowed else 404), (role, answer.text)
        cross_user += int(answer.status_code == 200 and not allowed)
        issued = other.client.post(
            "/api/token/issuances",
            json={"to": other.address, "amount": 1, "deposit_reference": f"m-{role.value}"},
            headers=other.headers | {"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
        )
        assert (issued.status_code == 200) == (role in MAY_ISSUE), (role, issued.text)
    anonymous = TestClient(create_app(platform))
    assert anonymous.get(f"/api/token/operations/{operation}").status_code == 401
    assert cross_user == 0


def test_transfer_always_spends_the_callers_own_wallet(
    official: Actor, citizen: Actor, merchant: Actor
) -> None:
    funded = official.client.post(
        "/api/token/issuances",
        json={"to": citizen.address, "amount": 500, "deposit_reference": "own-wallet"},
        headers=official.headers | {"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
    )
    assert funded.status_code == 200
    # The merchant cannot name the citizen as payer: there is no such field.
    stolen = merchant.client.post(
        "/api/token/transfers",
        json={"to": merchant.address, "amount": 100, "from": citizen.address},
        headers=merchant.headers | {"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
    )
    assert stolen.status_code == 422
    balance = merchant.client.get(f"/api/token/balances/{citizen.address}").json()["balance"]
    assert balance == 500
