"""Fixtures for the reports tests: rows inserted straight into the tables, a program created on
chain through the outbox, and a node of this package's own whose clock may be warped."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account

from busanchain.accounts.service import account_service_for
from busanchain.chain.node import AnvilSupervisor
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.merchants.tables import MerchantRecord, MerchantStatus
from busanchain.outbox.service import OutboxService
from busanchain.payments.tables import PaymentRecord, PaymentState, RefundRecord
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs.tables import GrantRecord, ProgramRecord, RoundRecord
from busanchain.vouchers.contracts import VoucherChain
from busanchain.vouchers.merkle import grants_tree
from tests.accounts.conftest import make_user
from tests.conftest import module_context, start_anvil

GROCERY, RESTAURANT, BAKERY = 5411, 5812, 5462
HAEUNDAE, JUNG_GU = 26350, 26110
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@dataclass
class Rows:
    """Inserts programs, merchants, payments and refunds directly (no chain involved)."""

    context: PlatformContext
    _owner: int | None = None
    _nonce: int = 0
    merchants: dict[str, MerchantRecord] = field(default_factory=dict)

    def owner(self) -> int:
        if self._owner is None:
            self._owner = make_user(account_service_for(self.context), "shopowner", Role.MERCHANT)
        return self._owner

    def program(self, program_id: int = 1, **values: object) -> None:
        data: dict[str, object] = {
            "id": program_id,
            "kind": "youth",
            "name_ko": f"청년 수당 {program_id}",
            "name_en": f"Youth allowance {program_id}",
            "budget": 10_000_000,
            "per_person_amount": 300_000,
            "per_payment_cap": 50_000,
            "daily_cap": 100_000,
            "starts_at": NOW - timedelta(days=30),
            "expires_at": NOW + timedelta(days=45),
            "state": "live",
        }
        data.update(values)
        with self.context.unit_of_work() as session:
            session.add(ProgramRecord(**data))

    def merchant(self, code: str, mcc: int = GROCERY, district: int = HAEUNDAE) -> MerchantRecord:
        record = MerchantRecord(
            code=code,
            owner_user_id=self.owner(),
            shop_name_ko=f"가게 {code}",
            business_number_hash="0x" + secrets.token_hex(32),
            business_number_tail="123",
            mcc=mcc,
            district=district,
            wallet_address=Account.create().address,
            status=MerchantStatus.ACTIVE,
        )
        with self.context.unit_of_work() as session:
            session.add(record)
            session.flush()
            session.expunge(record)
        self.merchants[code] = record
        return record

    def pay(
        self,
        code: str,
        amount: int,
        *,
        payer: str | None = None,
        program_id: int = 1,
        at: datetime = NOW,
        day: date | None = None,
        state: str = PaymentState.CONFIRMED,
        refunded: int = 0,
    ) -> int:
        merchant = self.merchants[code]
        self._nonce += 1
        record = PaymentRecord(
            program_id=program_id,
            payer=payer or Account.create().address,
            payer_user_id=98765431,
            merchant_id=merchant.id,
            merchant=merchant.wallet_address,
            amount=amount,
            order_ref="0x" + "00" * 32,
            order_id="ORDER-SECRET-1",
            nonce=self._nonce,
            deadline=2**40,
            signature="0x" + "11" * 65,
            state=state,
            business_day=day or (at + timedelta(hours=9)).date(),
            refunded=refunded,
            created_at=at,
            confirmed_at=at if state == PaymentState.CONFIRMED else None,
        )
        with self.context.unit_of_work() as session:
            session.add(record)
            session.flush()
            return record.id

    def refund(
        self, payment_id: int, amount: int, *, at: datetime = NOW, state: str = "confirmed"
    ) -> None:
        with self.context.unit_of_work() as session:
            session.add(
                RefundRecord(payment_id=payment_id, amount=amount, state=state, created_at=at)
            )

    def grant(self, program_id: int, amounts: Sequence[int], state: str = "claimed") -> None:
        with self.context.unit_of_work() as session:
            self._nonce += 1
            rnd = RoundRecord(
                program_id=program_id, round_id=self._nonce, mode="direct", state="done"
            )
            session.add(rnd)
            session.flush()
            for i, amount in enumerate(amounts):
                session.add(
                    GrantRecord(
                        round_pk=rnd.id,
                        program_id=program_id,
                        address=Account.create().address,
                        amount=amount,
                        leaf_index=i,
                        state=state,
                    )
                )


@pytest.fixture
def rows(context: PlatformContext) -> Rows:
    return Rows(context)


# -- on chain ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainProgram:
    """A program created on chain: who holds vouchers and what is reserved under a root."""

    program_id: int
    budget: int
    holders: list[str]
    granted: int
    unclaimed: int
    expiry: int


def execute(chain: VoucherChain, to: str, data: bytes) -> None:
    """Send one operator transaction through the outbox; fail the test on a revert."""
    outcome = chain.outbox.execute(
        signer=operator_signer(chain.context.settings), intent="test", to=to, data=data
    )
    assert outcome.status == "confirmed", outcome


def create_chain_program(
    context: PlatformContext,
    program_id: int,
    *,
    budget: int = 1_000_000,
    grant: int = 100_000,
    holders: int = 3,
    unclaimed: int = 2,
    expires_in_s: int = 3_600,
) -> ChainProgram:
    """Create program `program_id` on chain and in the database: direct grants to `holders`
    citizens and a Merkle round reserving `grant` for `unclaimed` more."""
    chain = VoucherChain(context)
    operator = operator_signer(context.settings)
    voucher, token = chain.addresses["PolicyVoucher"], chain.addresses["DigitalWon"]
    now = chain.chain_time()
    execute(
        chain, token, chain.calldata(chain.token, "mint", [operator.address, budget, b"\x05" * 32])
    )
    execute(chain, token, chain.calldata(chain.token, "approve", [voucher, budget]))
    params = (budget, 0, 0, 0, now, now + expires_in_s, [], [], [])
    execute(chain, voucher, chain.calldata(chain.voucher, "createProgram", [program_id, params]))
    people = [Account.create().address for _ in range(holders)]
    grant_call = [program_id, people, [grant] * holders]
    execute(chain, voucher, chain.calldata(chain.voucher, "grantBatch", grant_call))
    tree = grants_tree([(Account.create().address, grant) for _ in range(unclaimed)], 1)
    post = [program_id, 1, tree.root, grant * unclaimed]
    execute(chain, voucher, chain.calldata(chain.voucher, "postRound", post))
    with context.unit_of_work() as session:
        session.add(
            ProgramRecord(
                id=program_id,
                kind="youth",
                name_ko=f"청년 수당 {program_id}",
                name_en=f"Youth allowance {program_id}",
                budget=budget,
                per_person_amount=0,
                starts_at=datetime.fromtimestamp(now, UTC),
                expires_at=datetime.fromtimestamp(now + expires_in_s, UTC),
                state="live",
            )
        )
    return ChainProgram(
        program_id, budget, people, grant * holders, grant * unclaimed, now + expires_in_s
    )


def deploy(context: PlatformContext) -> VoucherChain:
    """Deploy every contract for this test's fresh database (fresh addresses)."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    return VoucherChain(context)


def warp(context: PlatformContext, seconds: int) -> None:
    """Move the (own) node's clock forward and mine a block."""
    client = OutboxService(context).client
    client.request("evm_increaseTime", [seconds])
    client.request("evm_mine", [])


@pytest.fixture(scope="module")
def warp_node(
    tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path
) -> Iterator[AnvilSupervisor]:
    """A node owned by one reports test module: its clock may be moved forward."""
    node = start_anvil(tmp_path_factory.mktemp("reports-warp-node"), anvil_binary)
    yield node
    node.stop(snapshot=False)


@pytest.fixture
def warp_context(tmp_path: Path, warp_node: AnvilSupervisor) -> Iterator[PlatformContext]:
    """A fresh database on the warpable node."""
    with module_context(tmp_path, warp_node.config.rpc_url) as context:
        yield context
