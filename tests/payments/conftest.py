"""Fixtures for payments: contracts deployed, a live program and registered merchants.

Programs are created directly on chain (VoucherChain + outbox, as tests/vouchers does) and
their rows inserted into the programs table; merchants are inserted into the merchants table
and registered on the MerchantRegistry by the operator.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_utils import keccak

from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.merchants.tables import MerchantRecord
from busanchain.outbox.service import OutboxService, raise_for_outcome
from busanchain.payments.relayer import Relayer
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs.tables import ProgramRecord
from busanchain.vouchers.contracts import VoucherChain
from tests.token.conftest import Actor, actor

GROCERY, BAR = 5411, 5813
HAEUNDAE, JUNG = 26350, 26110


def execute(chain: VoucherChain, contract: Any, fn: str, args: list[Any]) -> None:
    """Send one operator transaction through the outbox and require success."""
    outcome = chain.outbox.execute(
        signer=operator_signer(chain.context.settings),
        intent="test",
        to=contract.address,
        data=chain.calldata(contract, fn, args),
        timeout_s=30,
    )
    raise_for_outcome(outcome)


@dataclass
class World:
    """A deployed platform with helpers to add programs, merchants and grants."""

    context: PlatformContext
    chain: VoucherChain
    actors: list[Actor] = field(default_factory=list)
    next_program: int = 1

    def program(
        self,
        budget: int = 10_000_000,
        per_payment_cap: int = 0,
        daily_cap: int = 0,
        expiry_s: int = 30 * 86_400,
        allowed_categories: list[int] | None = None,
        blocked_categories: list[int] | None = None,
        allowed_districts: list[int] | None = None,
    ) -> int:
        """Create a program on chain and its row; returns its id."""
        pid = self.next_program
        self.next_program += 1
        chain, operator = self.chain, operator_signer(self.context.settings)
        voucher = chain.addresses["PolicyVoucher"]
        execute(chain, chain.token, "mint", [operator.address, budget, secrets.token_bytes(32)])
        execute(chain, chain.token, "approve", [voucher, budget])
        now = chain.chain_time()
        params = (
            budget,
            0,
            per_payment_cap,
            daily_cap,
            now - 60,
            now + expiry_s,
            allowed_categories or [],
            blocked_categories or [],
            allowed_districts or [],
        )
        execute(chain, chain.voucher, "createProgram", [pid, params])
        with self.context.unit_of_work() as session:
            session.add(
                ProgramRecord(
                    id=pid,
                    kind="youth",
                    name_ko=f"청년 지원금 {pid}",
                    name_en=f"Youth allowance {pid}",
                    budget=budget,
                    per_person_amount=0,
                    per_payment_cap=per_payment_cap,
                    daily_cap=daily_cap,
                    starts_at=datetime.fromtimestamp(now - 60, UTC),
                    expires_at=datetime.fromtimestamp(now + expiry_s, UTC),
                    allowed_categories=allowed_categories or [],
                    blocked_categories=blocked_categories or [],
                    allowed_districts=allowed_districts or [],
                    state="live",
                )
            )
        return pid

    def grant(self, program_id: int, address: str, amount: int) -> None:
        """A direct grant by the operator."""
        execute(self.chain, self.chain.voucher, "grantBatch", [program_id, [address], [amount]])

    def citizen(self, name: str) -> Actor:
        """A logged-in citizen."""
        a = actor(self.context, name, Role.CITIZEN)
        self.actors.append(a)
        return a

    def merchant(
        self,
        name: str,
        mcc: int = GROCERY,
        district: int = HAEUNDAE,
        register: bool = True,
        status: str = "active",
    ) -> tuple[Actor, str]:
        """A logged-in merchant with a shop row (and its registry entry); returns its code."""
        owner = actor(self.context, name, Role.MERCHANT)
        self.actors.append(owner)
        digest = keccak(text=f"biz:{name}:{secrets.token_hex(4)}")
        code = f"BS-{secrets.token_hex(3).upper()}"
        if register:
            execute(
                self.chain,
                self.chain.registry,
                "register",
                [owner.address, digest, mcc, district],
            )
        with self.context.unit_of_work() as session:
            session.add(
                MerchantRecord(
                    code=code,
                    owner_user_id=owner.user_id,
                    shop_name_ko=f"{name} 마트",
                    shop_name_en=f"{name} Mart",
                    business_number_hash="0x" + digest.hex(),
                    business_number_tail="123",
                    mcc=mcc,
                    district=district,
                    wallet_address=owner.address,
                    status=status,
                )
            )
        return owner, code

    def relay(self) -> int:
        """One relayer pass that waits for its batch; payments settled."""
        return Relayer(self.context).run_once(wait_s=30).settled

    def close(self) -> None:
        for a in self.actors:
            a.client.close()


@pytest.fixture
def world(context: PlatformContext) -> Iterator[World]:
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    w = World(context, VoucherChain(context))
    yield w
    w.close()


def pay(
    who: Actor,
    program_id: int,
    code: str,
    amount: int,
    key: str | None = None,
    wait: float = 0,
    lang: str = "ko",
) -> Any:
    """POST /api/payments as `who` (the response)."""
    return who.client.post(
        f"/api/payments?wait={wait}&lang={lang}",
        json={"program_id": program_id, "merchant_code": code, "amount": amount},
        headers=who.headers | {"Idempotency-Key": key or f"pay-{secrets.token_hex(8)}"},
    )
