"""Fixtures for the DigitalWon API: a platform with DigitalWon deployed, and logged-in users."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from busanchain.accounts.service import account_service_for
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.web.app import create_app
from tests.accounts.conftest import enable_totp, login, make_user


@dataclass
class Actor:
    """A logged-in user: client, CSRF header and custodial address."""

    client: TestClient
    headers: dict[str, str]
    address: str
    user_id: int


@pytest.fixture
def platform(context: PlatformContext) -> PlatformContext:
    """The context with DigitalWon deployed on the session's anvil."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    return context


def actor(context: PlatformContext, username: str, *roles: Role) -> Actor:
    """Create a user, log them in (with TOTP where the role needs it)."""
    accounts = account_service_for(context)
    user_id = make_user(accounts, username, *roles)
    client = TestClient(create_app(context))
    csrf = login(client, username)["csrf_token"]
    if {Role.OFFICIAL, Role.ADMIN} & set(roles):
        _secret, csrf = enable_totp(client, csrf)
    address = key_service_for(context).custodial_address(user_id)
    assert address is not None
    return Actor(client, {"X-CSRF-Token": csrf}, address, user_id)


@pytest.fixture
def official(platform: PlatformContext) -> Iterator[Actor]:
    a = actor(platform, "official1", Role.OFFICIAL)
    yield a
    a.client.close()


@pytest.fixture
def citizen(platform: PlatformContext) -> Iterator[Actor]:
    a = actor(platform, "citizen1", Role.CITIZEN)
    yield a
    a.client.close()


@pytest.fixture
def merchant(platform: PlatformContext) -> Iterator[Actor]:
    a = actor(platform, "merchant1", Role.MERCHANT)
    yield a
    a.client.close()
