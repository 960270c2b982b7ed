"""Fixtures for activation: deployed contracts, a live program, imported residents, a client.

Residents come in through the real importer, so their accounts are exactly what the
hand-over meets in production: unusable password, custodial key, linked by user id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from busanchain.accounts.tables import LoginFailure, SessionRecord, UserRecord, UserRoleRecord
from busanchain.deployment.service import DeploymentService
from busanchain.keys.service import key_service_for
from busanchain.keys.tables import CustodialKey
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.residents import resident_crypto
from busanchain.programs.service import ProgramService
from busanchain.programs.tables import ResidentRecord
from busanchain.web.app import create_app
from tests.programs.conftest import csv_bytes, program_fields, resident_rows

NEW_PASSWORD = "busan wallet 2026"


@dataclass(frozen=True)
class Resident:
    """An imported resident as the test knows them (the resident's own data)."""

    number: str
    phone: str
    user_id: int | None
    wallet: str | None

    def body(self, username: str = "minsu", password: str = NEW_PASSWORD, **changes: str) -> dict:
        """A JSON body for POST /api/activation."""
        body = {
            "resident_number": self.number,
            "phone": self.phone,
            "username": username,
            "password": password,
        }
        body.update(changes)
        return body


@dataclass(frozen=True)
class World:
    """A platform with a program and three imported residents: two with platform accounts
    (`alice`, `bob`) and one with a linked self-custody wallet (`carol`)."""

    context: PlatformContext
    alice: Resident
    bob: Resident
    carol: Resident
    stranger_number: str  # well-formed, never imported


def _residents(context: PlatformContext, rows: list[dict[str, str]]) -> list[Resident]:
    crypto = resident_crypto(context)
    found = []
    with context.unit_of_work() as session:
        for row in rows:
            digits = row["resident_id"].replace("-", "")
            record = session.scalar(
                select(ResidentRecord).where(ResidentRecord.resident_hash == crypto.hash_id(digits))
            )
            assert record is not None
            found.append(Resident(row["resident_id"], row["phone"], record.user_id, row["wallet"]))
    return found


@pytest.fixture
def world(context: PlatformContext) -> World:
    """Contracts deployed (fresh per test), a live program, three residents imported."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    program = ProgramService(context).create(None, program_fields())
    rows = resident_rows(4, seed=7)
    rows[2]["wallet"] = Account.create().address
    imported, stranger = rows[:3], rows[3]
    ResidentImporter(context).import_file(program.id, "residents.csv", csv_bytes(imported))
    alice, bob, carol = _residents(context, imported)
    assert alice.user_id and bob.user_id and carol.user_id is None
    return World(context, alice, bob, carol, stranger["resident_id"])


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    """A client of the whole web app from address 10.0.0.1."""
    with TestClient(create_app(world.context), client=("10.0.0.1", 40000)) as test_client:
        yield test_client


def client_at(context: PlatformContext, address: str) -> TestClient:
    """Another browser (own cookies) from another client address."""
    return TestClient(create_app(context), client=(address, 40000))


def snapshot(context: PlatformContext) -> dict[str, Any]:
    """Everything an activation may change (failure records excepted)."""
    with context.unit_of_work() as session:
        users = session.execute(
            select(UserRecord.id, UserRecord.username, UserRecord.password_hash).order_by(
                UserRecord.id
            )
        ).all()
        residents = session.execute(
            select(ResidentRecord.id, ResidentRecord.user_id, ResidentRecord.wallet_address)
        ).all()
        roles = session.execute(select(UserRoleRecord.user_id, UserRoleRecord.role)).all()

        def count(model: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

        return {
            "users": [tuple(u) for u in users],
            "residents": sorted(tuple(r) for r in residents),
            "roles": sorted(tuple(r) for r in roles),
            "sessions": count(SessionRecord),
            "keys": count(CustodialKey),
        }


def failures(context: PlatformContext) -> list[str]:
    """The subjects of recorded activation failures."""
    with context.unit_of_work() as session:
        subjects = session.scalars(
            select(LoginFailure.subject).where(LoginFailure.subject.startswith("activation:"))
        )
        return sorted(subjects)


def custodial_address(context: PlatformContext, user_id: int) -> str | None:
    """The custodial address the importer created for a user."""
    return key_service_for(context).custodial_address(user_id)
