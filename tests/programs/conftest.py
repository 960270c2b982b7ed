"""Fixtures for programs: deployed contracts, an official, programs and resident files."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import func, select

from busanchain.accounts.tables import UserRecord
from busanchain.deployment.service import DeploymentService
from busanchain.keys.tables import CustodialKey
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs.service import ProgramService, ProgramView
from busanchain.programs.tables import (
    EnrollmentRecord,
    GrantRecord,
    ImportRecord,
    ResidentRecord,
)

HEADER = ["resident_id", "name", "phone", "birth_date", "district", "amount", "wallet"]


@pytest.fixture
def platform(context: PlatformContext) -> PlatformContext:
    """The context with every contract deployed (fresh addresses per test)."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    return context


def program_fields(**changes: Any) -> dict[str, Any]:
    """A valid youth allowance program, starting now, for a year."""
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "name_ko": "부산 청년수당",
        "name_en": "Busan youth allowance",
        "kind": "youth",
        "budget": 10_000_000,
        "per_person_amount": 300_000,
        "per_payment_cap": 100_000,
        "daily_cap": 200_000,
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "expires_at": (now + timedelta(days=365)).isoformat(),
        "allowed_categories": [],
        "blocked_categories": [5813, 7995],
        "allowed_districts": [],
    }
    fields.update(changes)
    return fields


@pytest.fixture
def live_program(platform: PlatformContext) -> ProgramView:
    return ProgramService(platform).create(None, program_fields())


def resident_number(born: date, rng: random.Random) -> str:
    """A well-formed resident registration number for a birth date."""
    digit = (1 if born.year < 2000 else 3) + rng.randrange(2)
    return f"{born:%y%m%d}-{digit}{rng.randrange(10**5, 10**6)}"


def resident_rows(
    count: int, seed: int = 1, wallets: bool = False, **fixed: str
) -> list[dict[str, str]]:
    """`count` valid youth rows (aged 20-33)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        born = date(1995 + rng.randrange(10), 1 + rng.randrange(12), 1 + rng.randrange(28))
        row = {
            "resident_id": resident_number(born, rng),
            "name": f"김{chr(0xAC00 + rng.randrange(11172))}{chr(0xAC00 + i % 11172)}",
            "phone": f"010-{rng.randrange(1000, 10000)}-{rng.randrange(1000, 10000)}",
            "birth_date": born.isoformat(),
            "district": rng.choice(["26110", "해운대구", "26290"]),
            "amount": "",
            "wallet": Account.create().address if wallets else "",
        }
        row.update(fixed)
        rows.append(row)
    return rows


def csv_bytes(
    rows: list[dict[str, str]], encoding: str = "utf-8", header: list[str] | None = None
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header or HEADER)
    for row in rows:
        writer.writerow([row.get(h, "") for h in HEADER])
    return out.getvalue().encode(encoding)


def counts(context: PlatformContext) -> dict[str, int]:
    """Rows in every table an import may touch."""
    tables = {
        "residents": ResidentRecord,
        "enrollments": EnrollmentRecord,
        "users": UserRecord,
        "keys": CustodialKey,
        "grants": GrantRecord,
        "imports": ImportRecord,
    }
    with context.unit_of_work() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in tables.items()
        }


@pytest.fixture
def rows_factory() -> Iterator[Any]:
    yield resident_rows
