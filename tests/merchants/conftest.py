"""Fixtures for the merchants feature: deployed contracts, users, and valid business numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from busanchain.accounts.service import account_service_for
from busanchain.domain.roles import Role
from busanchain.merchants.rules import business_number_check_digit
from busanchain.merchants.service import MerchantService, MerchantView
from busanchain.payments.tables import PaymentRecord, PaymentState, RefundRecord
from busanchain.platform.context import PlatformContext
from busanchain.programs.tables import ProgramRecord
from tests.accounts.conftest import make_user
from tests.token.conftest import Actor, actor, platform  # noqa: F401 (fixture)

__all__ = ["Actor", "actor"]


def bizno(first_nine: str) -> str:
    """A valid business registration number with dashes, from its first nine digits."""
    digits = first_nine + str(business_number_check_digit(first_nine))
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def bad_bizno(first_nine: str) -> str:
    """The same number with a wrong check digit."""
    good = bizno(first_nine)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


@pytest.fixture
def service(platform: PlatformContext) -> MerchantService:  # noqa: F811 (fixture)
    """The merchant service on a platform with the contracts deployed."""
    return MerchantService(platform)


def new_merchant_user(context: PlatformContext, username: str) -> int:
    """A user holding the merchant role (no login)."""
    return make_user(account_service_for(context), username, Role.MERCHANT)


def new_official(context: PlatformContext, username: str = "registrar") -> int:
    """A user holding the official role (no login)."""
    return make_user(account_service_for(context), username, Role.OFFICIAL)


def active_merchant(
    service: MerchantService,
    username: str,
    official_id: int,
    *,
    nine: str,
    mcc: int = 5411,
    district: int = 26350,
    name: str = "해운대 마트",
) -> MerchantView:
    """Apply and approve a merchant owned by a new user."""
    user_id = new_merchant_user(service.context, username)
    view = service.apply(user_id, name, "Haeundae Mart", bizno(nine), mcc, district, "해운대로 1")
    return service.approve(view.id, official_id)


def add_program(
    session: Session,
    program_id: int,
    *,
    allowed_categories: list[int] | None = None,
    blocked_categories: list[int] | None = None,
    allowed_districts: list[int] | None = None,
) -> None:
    """A program row with category and district rules (no chain needed for search)."""
    now = datetime.now(UTC)
    session.add(
        ProgramRecord(
            id=program_id,
            kind="youth",
            name_ko=f"사업 {program_id}",
            name_en=f"Program {program_id}",
            budget=1_000_000,
            per_person_amount=100_000,
            starts_at=now,
            expires_at=now,
            allowed_categories=allowed_categories or [],
            blocked_categories=blocked_categories or [],
            allowed_districts=allowed_districts or [],
        )
    )


def add_payment(
    session: Session,
    merchant: MerchantView,
    amount: int,
    day: date,
    *,
    nonce: int,
    state: str = PaymentState.CONFIRMED,
) -> PaymentRecord:
    """A payment row as the payments feature writes it."""
    record = PaymentRecord(
        program_id=1,
        payer="0x" + "11" * 20,
        merchant_id=merchant.id,
        merchant=merchant.wallet_address,
        amount=amount,
        order_ref="0x" + "00" * 32,
        nonce=nonce,
        deadline=0,
        signature="0x",
        state=state,
        business_day=day,
    )
    session.add(record)
    session.flush()
    return record


def add_refund(session: Session, payment: PaymentRecord, amount: int, at: datetime) -> None:
    """A confirmed refund of a payment."""
    session.add(
        RefundRecord(payment_id=payment.id, amount=amount, state="confirmed", confirmed_at=at)
    )


@pytest.fixture
def official_id(platform: PlatformContext) -> Iterator[int]:  # noqa: F811 (fixture)
    yield new_official(platform)
