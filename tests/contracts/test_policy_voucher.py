"""PolicyVoucher on a real anvil node: programs, grants, payments, refunds, expiry, conservation.

Every rule of a payment is checked by sending it straight to the contract, and after every
action `Env.check` asserts the conservation identity and that DigitalWon is neither created
nor lost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from busanchain.chain.rpc import make_web3
from tests.conftest import start_anvil
from tests.contracts.conftest import Chain, error_selector, expect_revert
from tests.contracts.test_merchant_registry import deploy

MakeAccount = Callable[[], LocalAccount]
PROGRAM = 1
BUDGET = 1_000_000
PER_PERSON = 300_000
PAYMENT_CAP = 50_000
DAILY_CAP = 80_000
GROCERY, RESTAURANT, BAKERY, DEPARTMENT_STORE = 5411, 5812, 5462, 5311
HAEUNDAE, JUNG_GU, GANGSEO = 26350, 26110, 26440
ORDER = keccak(text="order-1")

# Reason codes of PolicyVoucher.Reason (the enum's order).
REASONS = [
    "None",
    "ContractPaused",
    "UnknownProgram",
    "ProgramPaused",
    "NotStarted",
    "Expired",
    "ZeroAmount",
    "PayerBlacklisted",
    "MerchantBlacklisted",
    "MerchantNotRegistered",
    "MerchantSuspended",
    "CategoryBlocked",
    "CategoryNotAllowed",
    "DistrictNotAllowed",
    "OverPaymentCap",
    "OverDailyCap",
    "InsufficientBalance",
    "DeadlinePassed",
    "NonceUsed",
    "BadSignature",
]
REASON = {name: code for code, name in enumerate(REASONS)}

PAYMENT_FIELDS = [
    {"name": "payer", "type": "address"},
    {"name": "programId", "type": "uint256"},
    {"name": "merchant", "type": "address"},
    {"name": "amount", "type": "uint256"},
    {"name": "orderRef", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


# -- Merkle tree like OpenZeppelin's StandardMerkleTree (sorted pairs) ------------------------


def leaf_hash(recipient: str, amount: int, round_id: int) -> bytes:
    """keccak256(bytes.concat(keccak256(abi.encode(recipient, amount, roundId))))."""
    return keccak(keccak(encode(["address", "uint256", "uint256"], [recipient, amount, round_id])))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def merkle(leaves: Sequence[bytes]) -> tuple[bytes, dict[bytes, list[bytes]]]:
    """(root, proof per leaf) of a sorted-pair keccak tree; an odd node moves up unchanged."""
    layer = sorted(leaves)
    proofs: dict[bytes, list[bytes]] = {leaf: [] for leaf in layer}
    members: list[list[bytes]] = [[leaf] for leaf in layer]
    while len(layer) > 1:
        next_layer, next_members = [], []
        for i in range(0, len(layer), 2):
            if i + 1 == len(layer):
                next_layer.append(layer[i])
                next_members.append(members[i])
                continue
            for leaf in members[i]:
                proofs[leaf].append(layer[i + 1])
            for leaf in members[i + 1]:
                proofs[leaf].append(layer[i])
            next_layer.append(_pair(layer[i], layer[i + 1]))
            next_members.append(members[i] + members[i + 1])
        layer, members = next_layer, next_members
    return layer[0], proofs


# -- environment --------------------------------------------------------------------------


@dataclass
class Env:
    """DigitalWon, registry and voucher deployed fresh, with the accounts that hold money."""

    chain: Chain
    admin: LocalAccount
    token: Contract
    registry: Contract
    voucher: Contract
    treasury: str
    new_account: MakeAccount
    holders: set[str] = field(default_factory=set)
    won_holders: set[str] = field(default_factory=set)
    programs: set[int] = field(default_factory=set)
    proofs: dict[bytes, list[bytes]] = field(default_factory=dict)

    def send(self, fn: ContractFunction, sender: LocalAccount | None = None) -> dict[str, Any]:
        receipt = self.chain.send(fn, sender or self.admin)
        self.check()
        return receipt

    def mint_won(self, to: str, amount: int) -> None:
        self.won_holders.add(to)
        self.chain.send(self.token.functions.mint(to, amount, os.urandom(32)), self.admin)

    def create_program(self, program_id: int = PROGRAM, **overrides: Any) -> None:
        now = self.chain.block_time()
        params: dict[str, Any] = {
            "budget": BUDGET,
            "perPersonAmount": PER_PERSON,
            "perPaymentCap": PAYMENT_CAP,
            "dailyCap": DAILY_CAP,
            "start": now,
            "expiry": now + 30 * 86_400,
            "allowedCategories": [GROCERY, RESTAURANT, DEPARTMENT_STORE],
            "blockedCategories": [DEPARTMENT_STORE],
            "allowedDistricts": [HAEUNDAE, JUNG_GU],
        }
        params.update(overrides)
        self.mint_won(self.admin.address, params["budget"])
        self.chain.send(
            self.token.functions.approve(self.voucher.address, params["budget"]), self.admin
        )
        self.programs.add(program_id)
        self.send(self.voucher.functions.createProgram(program_id, tuple(params.values())))

    def merchant(self, mcc: int = GROCERY, district: int = HAEUNDAE) -> LocalAccount:
        account = self.new_account()
        self.won_holders.add(account.address)
        self.chain.send(
            self.registry.functions.register(account.address, os.urandom(32), mcc, district),
            self.admin,
        )
        self.chain.send(
            self.token.functions.approve(self.voucher.address, 2**255), account
        )  # for refunds
        return account

    def grant(self, recipients: Sequence[str], amount: int, program_id: int = PROGRAM) -> None:
        self.holders.update(recipients)
        amounts = [amount] * len(recipients)
        self.send(self.voucher.functions.grantBatch(program_id, list(recipients), amounts))

    def balance(self, holder: str, program_id: int = PROGRAM) -> int:
        return int(self.voucher.functions.balanceOf(holder, program_id).call())

    def won(self, holder: str) -> int:
        return int(self.token.functions.balanceOf(holder).call())

    def check(self) -> None:
        """Conservation per program, and DigitalWon supply equals the known balances."""
        total_locked = 0
        for program_id in self.programs:
            locked, unspent, unclaimed, unallocated = self.voucher.functions.conservation(
                program_id
            ).call()
            assert locked == unspent + unclaimed + unallocated
            if not self.voucher.functions.isExpired(program_id).call():
                holders = sorted(self.holders)
                balances = self.voucher.functions.balanceOfBatch(
                    holders, [program_id] * len(holders)
                ).call()
                assert unspent == sum(balances)
            total_locked += locked
        assert self.voucher.functions.totalLocked().call() == total_locked
        assert self.won(self.voucher.address) == total_locked
        accounts = self.won_holders | {self.voucher.address, self.treasury}
        known = sum(self.won(h) for h in accounts)
        assert self.token.functions.totalSupply().call() == known

    def sign_payment(
        self,
        payer: LocalAccount,
        merchant: str,
        amount: int,
        *,
        nonce: int | None = None,
        deadline: int | None = None,
        program_id: int = PROGRAM,
        signer: LocalAccount | None = None,
    ) -> tuple[Any, ...]:
        message = {
            "payer": payer.address,
            "programId": program_id,
            "merchant": merchant,
            "amount": amount,
            "orderRef": ORDER,
            "nonce": nonce if nonce is not None else int.from_bytes(os.urandom(16), "big"),
            "deadline": deadline if deadline is not None else self.chain.block_time() + 600,
        }
        typed = {
            "types": {"EIP712Domain": DOMAIN_FIELDS, "Payment": PAYMENT_FIELDS},
            "primaryType": "Payment",
            "domain": {
                "name": "PolicyVoucher",
                "version": "1",
                "chainId": self.chain.w3.eth.chain_id,
                "verifyingContract": self.voucher.address,
            },
            "message": message,
        }
        signed = Account.sign_typed_data((signer or payer).key, full_message=typed)
        return (*message.values(), signed.signature)


def advance(chain: Chain, seconds: int) -> None:
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def expect_reason(env: Env, fn: ContractFunction, sender: str, reason: str) -> None:
    """Assert that `fn` reverts with PaymentRejected(reason)."""
    with pytest.raises(ContractCustomError) as caught:
        fn.call({"from": sender})
    data = caught.value.data
    assert isinstance(data, str)
    assert data.startswith(error_selector(env.voucher, "PaymentRejected")), data
    assert REASONS[int(data[10:], 16)] == reason


def paid_event(env: Env, receipt: dict[str, Any]) -> Any:
    return env.voucher.events.Paid().process_receipt(receipt, errors=DISCARD)[0]["args"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[Chain]:
    """A private node: these tests move the chain's clock forward, which must not leak."""
    node = start_anvil(tmp_path_factory.mktemp("voucher-node"), anvil_binary)
    yield Chain(make_web3(node.config.rpc_url))
    node.stop(snapshot=False)


@pytest.fixture
def env(chain: Chain, admin: LocalAccount, new_account: MakeAccount) -> Env:
    """Fresh contracts and program 1 (budget 1,000,000 won, started, expires in 30 days)."""
    token = deploy(chain, "DigitalWon", admin, admin.address)
    registry = deploy(chain, "MerchantRegistry", admin, admin.address)
    treasury = Account.create().address
    voucher = deploy(
        chain, "PolicyVoucher", admin, admin.address, token.address, registry.address, treasury
    )
    environment = Env(chain, admin, token, registry, voucher, treasury, new_account)
    environment.won_holders.add(admin.address)
    environment.create_program()
    return environment


@pytest.fixture
def citizen(env: Env) -> LocalAccount:
    """A citizen holding 300,000 won of program 1 vouchers."""
    account = env.new_account()
    env.grant([account.address], PER_PERSON)
    return account


# -- programs -----------------------------------------------------------------------------


def test_create_program_locks_budget(env: Env) -> None:
    assert env.won(env.voucher.address) == BUDGET
    assert env.voucher.functions.conservation(PROGRAM).call() == [BUDGET, 0, 0, BUDGET]
    rules = env.voucher.functions.program(PROGRAM).call()
    assert rules[0] == BUDGET and rules[6] is True and rules[7] is True  # restricted lists
    assert env.voucher.functions.categoryAllowed(PROGRAM, GROCERY).call()
    assert not env.voucher.functions.categoryAllowed(PROGRAM, DEPARTMENT_STORE).call()
    assert not env.voucher.functions.categoryAllowed(PROGRAM, BAKERY).call()
    assert env.voucher.functions.districtAllowed(PROGRAM, JUNG_GU).call()
    assert not env.voucher.functions.districtAllowed(PROGRAM, GANGSEO).call()


def test_create_program_rejects_taken_id_bad_schedule_and_no_approval(env: Env) -> None:
    now = env.chain.block_time()
    params: tuple[Any, ...] = (BUDGET, 0, 0, 0, now, now + 100, [], [], [])
    fn = env.voucher.functions.createProgram(PROGRAM, params)
    expect_revert(env.voucher, fn, env.admin.address, "InvalidProgramId")
    bad: tuple[Any, ...] = (BUDGET, 0, 0, 0, now + 100, now + 100, [], [], [])
    fn = env.voucher.functions.createProgram(2, bad)
    expect_revert(env.voucher, fn, env.admin.address, "InvalidSchedule")
    fn = env.voucher.functions.createProgram(2, params)  # no DigitalWon approved
    expect_revert(env.token, fn, env.admin.address, "ERC20InsufficientAllowance")


def test_only_program_admin_creates_and_grants(env: Env) -> None:
    stranger = env.new_account()
    fn = env.voucher.functions.grantBatch(PROGRAM, [stranger.address], [1])
    expect_revert(env.voucher, fn, stranger.address, "AccessControlUnauthorizedAccount")


# -- grants -------------------------------------------------------------------------------


def _round(env: Env, recipients: list[str], amount: int, round_id: int = 1) -> dict[bytes, Any]:
    leaves = [leaf_hash(r, amount, round_id) for r in recipients]
    root, proofs = merkle(leaves)
    env.send(env.voucher.functions.postRound(PROGRAM, round_id, root, amount * len(recipients)))
    env.holders.update(recipients)
    return proofs


def test_merkle_claim_works_once(env: Env) -> None:
    recipients = [Account.create().address for _ in range(5)]
    proofs = _round(env, recipients, 100_000)
    assert env.voucher.functions.conservation(PROGRAM).call() == [BUDGET, 0, 500_000, 500_000]
    target = recipients[3]
    proof = proofs[leaf_hash(target, 100_000, 1)]
    env.send(env.voucher.functions.claim(PROGRAM, 1, target, 100_000, proof))
    assert env.balance(target) == 100_000
    assert env.voucher.functions.leafStatus(PROGRAM, 1, target, 100_000).call() == 1
    assert env.voucher.functions.conservation(PROGRAM).call() == [
        BUDGET,
        100_000,
        400_000,
        500_000,
    ]
    again = env.voucher.functions.claim(PROGRAM, 1, target, 100_000, proof)
    expect_revert(env.voucher, again, env.admin.address, "LeafSettled")


def test_merkle_claim_rejects_bad_proof_and_amount(env: Env) -> None:
    recipients = [Account.create().address for _ in range(4)]
    proofs = _round(env, recipients, 100_000)
    proof = proofs[leaf_hash(recipients[0], 100_000, 1)]
    fn = env.voucher.functions.claim(PROGRAM, 1, recipients[1], 100_000, proof)
    expect_revert(env.voucher, fn, env.admin.address, "InvalidProof")
    fn = env.voucher.functions.claim(PROGRAM, 1, recipients[0], 200_000, proof)
    expect_revert(env.voucher, fn, env.admin.address, "InvalidProof")
    fn = env.voucher.functions.claim(PROGRAM, 2, recipients[0], 100_000, proof)
    expect_revert(env.voucher, fn, env.admin.address, "UnknownRound")


def test_post_round_cannot_exceed_unallocated(env: Env) -> None:
    root = keccak(text="root")
    fn = env.voucher.functions.postRound(PROGRAM, 1, root, BUDGET + 1)
    expect_revert(env.voucher, fn, env.admin.address, "InsufficientUnallocated")
    env.send(env.voucher.functions.postRound(PROGRAM, 1, root, BUDGET))
    fn = env.voucher.functions.postRound(PROGRAM, 1, keccak(text="other"), 1)
    expect_revert(env.voucher, fn, env.admin.address, "InvalidRound")


def test_unclaimed_leaf_revoked_returns_to_unallocated(env: Env) -> None:
    recipients = [Account.create().address for _ in range(3)]
    proofs = _round(env, recipients, 100_000)
    proof = proofs[leaf_hash(recipients[0], 100_000, 1)]
    env.send(env.voucher.functions.revokeRootGrant(PROGRAM, 1, recipients[0], 100_000, proof))
    assert env.voucher.functions.conservation(PROGRAM).call() == [BUDGET, 0, 200_000, 800_000]
    fn = env.voucher.functions.claim(PROGRAM, 1, recipients[0], 100_000, proof)
    expect_revert(env.voucher, fn, env.admin.address, "LeafSettled")


def test_grant_batch_mints_and_reserves(env: Env) -> None:
    recipients = [Account.create().address for _ in range(3)]
    env.grant(recipients, 200_000)
    assert [env.balance(r) for r in recipients] == [200_000] * 3
    assert env.voucher.functions.conservation(PROGRAM).call() == [BUDGET, 600_000, 0, 400_000]


def test_grant_batch_rejects_over_budget_over_limit_and_mismatch(env: Env) -> None:
    recipients = [Account.create().address for _ in range(4)]
    fn = env.voucher.functions.grantBatch(PROGRAM, recipients, [PER_PERSON] * 4)
    expect_revert(env.voucher, fn, env.admin.address, "InsufficientUnallocated")
    fn = env.voucher.functions.grantBatch(PROGRAM, recipients[:1], [PER_PERSON + 1])
    expect_revert(env.voucher, fn, env.admin.address, "GrantAboveLimit")
    fn = env.voucher.functions.grantBatch(PROGRAM, recipients, [1])
    expect_revert(env.voucher, fn, env.admin.address, "LengthMismatch")


def test_direct_grant_revoked_while_unspent(env: Env, citizen: LocalAccount) -> None:
    shop = env.merchant()
    env.send(env.voucher.functions.pay(PROGRAM, shop.address, 50_000, ORDER), citizen)
    assert env.voucher.functions.revocable(PROGRAM, citizen.address).call() == 250_000
    fn = env.voucher.functions.revokeGrant(PROGRAM, citizen.address, 250_001)
    expect_revert(env.voucher, fn, env.admin.address, "RevokeTooLarge")
    env.send(env.voucher.functions.revokeGrant(PROGRAM, citizen.address, 250_000))
    assert env.balance(citizen.address) == 0
    assert env.voucher.functions.conservation(PROGRAM).call() == [950_000, 0, 0, 950_000]


def test_vouchers_are_not_transferable(env: Env, citizen: LocalAccount) -> None:
    other = Account.create().address
    fn = env.voucher.functions.safeTransferFrom(citizen.address, other, PROGRAM, 1, b"")
    expect_revert(env.voucher, fn, citizen.address, "NonTransferable")
    fn = env.voucher.functions.safeBatchTransferFrom(citizen.address, other, [PROGRAM], [1], b"")
    expect_revert(env.voucher, fn, citizen.address, "NonTransferable")


# -- payments -----------------------------------------------------------------------------


def test_pay_burns_voucher_and_unwraps_to_merchant(env: Env, citizen: LocalAccount) -> None:
    shop = env.merchant()
    receipt = env.send(env.voucher.functions.pay(PROGRAM, shop.address, 30_000, ORDER), citizen)
    assert env.balance(citizen.address) == PER_PERSON - 30_000
    assert env.won(shop.address) == 30_000
    event = paid_event(env, receipt)
    assert (event["paymentId"], event["amount"], event["merchant"]) == (1, 30_000, shop.address)
    ledger = env.voucher.functions.ledger(PROGRAM).call()
    assert ledger[0] == BUDGET - 30_000 and ledger[3] == 30_000  # locked, paidOut
    assert env.voucher.functions.paidToday(PROGRAM, citizen.address).call() == 30_000


@pytest.mark.parametrize(
    ("mcc", "district", "reason"),
    [
        (DEPARTMENT_STORE, HAEUNDAE, "CategoryBlocked"),
        (BAKERY, HAEUNDAE, "CategoryNotAllowed"),
        (GROCERY, GANGSEO, "DistrictNotAllowed"),
    ],
)
def test_pay_rejects_merchant_outside_program_rules(
    env: Env, citizen: LocalAccount, mcc: int, district: int, reason: str
) -> None:
    shop = env.merchant(mcc, district)
    expect_reason(
        env, env.voucher.functions.pay(PROGRAM, shop.address, 1_000, ORDER), citizen.address, reason
    )


def test_pay_rejects_unregistered_and_suspended_merchant(env: Env, citizen: LocalAccount) -> None:
    stranger = Account.create().address
    fn = env.voucher.functions.pay(PROGRAM, stranger, 1_000, ORDER)
    expect_reason(env, fn, citizen.address, "MerchantNotRegistered")
    shop = env.merchant()
    env.chain.send(env.registry.functions.suspend(shop.address), env.admin)
    fn = env.voucher.functions.pay(PROGRAM, shop.address, 1_000, ORDER)
    expect_reason(env, fn, citizen.address, "MerchantSuspended")


def test_pay_rejects_over_caps_and_balance(env: Env, citizen: LocalAccount) -> None:
    shop = env.merchant()
    fn = env.voucher.functions.pay(PROGRAM, shop.address, PAYMENT_CAP + 1, ORDER)
    expect_reason(env, fn, citizen.address, "OverPaymentCap")
    env.send(env.voucher.functions.pay(PROGRAM, shop.address, PAYMENT_CAP, ORDER), citizen)
    fn = env.voucher.functions.pay(PROGRAM, shop.address, DAILY_CAP - PAYMENT_CAP + 1, ORDER)
    expect_reason(env, fn, citizen.address, "OverDailyCap")
    poor = env.new_account()
    env.grant([poor.address], 10)
    fn = env.voucher.functions.pay(PROGRAM, shop.address, 11, ORDER)
    expect_reason(env, fn, poor.address, "InsufficientBalance")


def test_pay_rejects_before_start(env: Env) -> None:
    now = env.chain.block_time()
    env.create_program(2, start=now + 86_400, expiry=now + 2 * 86_400)
    payer = env.new_account()
    env.grant([payer.address], 1_000, program_id=2)
    shop = env.merchant()
    fn = env.voucher.functions.pay(2, shop.address, 1_000, ORDER)
    expect_reason(env, fn, payer.address, "NotStarted")


def test_pay_rejects_paused_contract_and_program(env: Env, citizen: LocalAccount) -> None:
    shop = env.merchant()
    fn = env.voucher.functions.pay(PROGRAM, shop.address, 1_000, ORDER)
    env.send(env.voucher.functions.pause())
    expect_reason(env, fn, citizen.address, "ContractPaused")
    env.send(env.voucher.functions.unpause())
    env.send(env.voucher.functions.setProgramPaused(PROGRAM, True))
    expect_reason(env, fn, citizen.address, "ProgramPaused")
    env.send(env.voucher.functions.setProgramPaused(PROGRAM, False))
    env.send(fn, citizen)


def test_pay_rejects_blacklisted_payer_and_merchant(env: Env, citizen: LocalAccount) -> None:
    shop = env.merchant()
    fn = env.voucher.functions.pay(PROGRAM, shop.address, 1_000, ORDER)
    env.send(env.voucher.functions.setBlacklisted(citizen.address, True))
    expect_reason(env, fn, citizen.address, "PayerBlacklisted")
    env.send(env.voucher.functions.setBlacklisted(citizen.address, False))
    env.send(env.voucher.functions.setBlacklisted(shop.address, True))
    expect_reason(env, fn, citizen.address, "MerchantBlacklisted")


def test_pause_and_blacklist_need_their_roles(env: Env) -> None:
    stranger = env.new_account()
    for fn in (
        env.voucher.functions.pause(),
        env.voucher.functions.setProgramPaused(PROGRAM, True),
        env.voucher.functions.setBlacklisted(stranger.address, True),
    ):
        expect_revert(env.voucher, fn, stranger.address, "AccessControlUnauthorizedAccount")


# -- relayed batches ----------------------------------------------------------------------


def _failures(env: Env, receipt: dict[str, Any]) -> list[tuple[int, str]]:
    events = env.voucher.events.PaymentFailed().process_receipt(receipt, errors=DISCARD)
    return [(e["args"]["index"], REASONS[e["args"]["reason"]]) for e in events]


def test_pay_batch_skips_bad_signature_and_over_cap(env: Env) -> None:
    payers = [env.new_account() for _ in range(4)]
    env.grant([p.address for p in payers], 100_000)
    shop = env.merchant()
    relayer = env.new_account()
    impostor = Account.create()
    batch = [
        env.sign_payment(payers[0], shop.address, 10_000),
        env.sign_payment(payers[1], shop.address, 10_000, signer=impostor),
        env.sign_payment(payers[2], shop.address, PAYMENT_CAP + 1),
        env.sign_payment(payers[3], shop.address, 20_000),
    ]
    receipt = env.send(env.voucher.functions.payBatch(batch), relayer)
    assert _failures(env, receipt) == [(1, "BadSignature"), (2, "OverPaymentCap")]
    assert env.won(shop.address) == 30_000
    assert [env.balance(p.address) for p in payers] == [90_000, 100_000, 100_000, 80_000]
    assert env.voucher.functions.nonceUsed(payers[0].address, batch[0][5]).call()
    assert not env.voucher.functions.nonceUsed(payers[1].address, batch[1][5]).call()


def test_pay_batch_rejects_replayed_nonce_and_passed_deadline(env: Env) -> None:
    payer = env.new_account()
    env.grant([payer.address], 100_000)
    shop = env.merchant()
    first = env.sign_payment(payer, shop.address, 1_000, nonce=7)
    env.send(env.voucher.functions.payBatch([first]))
    replay = env.send(env.voucher.functions.payBatch([first]))
    again = env.sign_payment(payer, shop.address, 2_000, nonce=7)
    late = env.sign_payment(payer, shop.address, 1_000, deadline=env.chain.block_time() - 1)
    receipt = env.send(env.voucher.functions.payBatch([again, late]))
    assert _failures(env, replay) == [(0, "NonceUsed")]
    assert _failures(env, receipt) == [(0, "NonceUsed"), (1, "DeadlinePassed")]
    assert env.balance(payer.address) == 99_000


def test_pay_batch_checks_rules_in_order_within_the_batch(env: Env) -> None:
    payer = env.new_account()
    env.grant([payer.address], 100_000)
    shop = env.merchant()
    batch = [env.sign_payment(payer, shop.address, 40_000) for _ in range(3)]
    receipt = env.send(env.voucher.functions.payBatch(batch))
    assert _failures(env, receipt) == [(2, "OverDailyCap")]
    assert env.won(shop.address) == 80_000


# -- refunds ------------------------------------------------------------------------------


def _pay(env: Env, payer: LocalAccount, shop: str, amount: int) -> tuple[int, tuple[Any, ...]]:
    receipt = env.send(env.voucher.functions.pay(PROGRAM, shop, amount, ORDER), payer)
    event = paid_event(env, receipt)
    record = (PROGRAM, payer.address, shop, amount, event["day"])
    return int(event["paymentId"]), record


def test_refund_returns_vouchers_up_to_the_payment(env: Env, citizen: LocalAccount) -> None:
    shop = env.merchant()
    payment_id, record = _pay(env, citizen, shop.address, 40_000)
    env.send(env.voucher.functions.refund(payment_id, record, 15_000), shop)
    assert env.balance(citizen.address) == PER_PERSON - 25_000
    assert env.won(shop.address) == 25_000
    assert env.voucher.functions.paidToday(PROGRAM, citizen.address).call() == 25_000
    fn = env.voucher.functions.refund(payment_id, record, 25_001)
    expect_revert(env.voucher, fn, shop.address, "RefundTooLarge")
    env.send(env.voucher.functions.refund(payment_id, record, 25_000), shop)
    assert env.voucher.functions.refundedOf(payment_id).call() == 40_000
    assert env.voucher.functions.ledger(PROGRAM).call()[4] == 40_000  # refunded


def test_refund_rejects_other_merchant_and_altered_record(env: Env, citizen: LocalAccount) -> None:
    shop, other = env.merchant(), env.merchant()
    payment_id, record = _pay(env, citizen, shop.address, 40_000)
    fn = env.voucher.functions.refund(payment_id, record, 1)
    expect_revert(env.voucher, fn, other.address, "NotPaymentMerchant")
    inflated = (*record[:3], 90_000, record[4])
    fn = env.voucher.functions.refund(payment_id, inflated, 50_000)
    expect_revert(env.voucher, fn, shop.address, "PaymentMismatch")


# -- expiry -------------------------------------------------------------------------------


def test_expiry_zeroes_balances_and_blocks_payment(env: Env) -> None:
    now = env.chain.block_time()
    env.create_program(2, start=now, expiry=now + 1_000)
    payer = env.new_account()
    env.grant([payer.address], 5_000, program_id=2)
    shop = env.merchant()
    fn = env.voucher.functions.pay(2, shop.address, 1_000, ORDER)
    fn.call({"from": payer.address})  # fine before expiry
    advance(env.chain, 1_001)
    assert env.balance(payer.address, 2) == 0
    assert env.voucher.functions.balanceOfBatch([payer.address], [2]).call() == [0]
    expect_reason(env, fn, payer.address, "Expired")
    fn = env.voucher.functions.grantBatch(2, [payer.address], [1])
    expect_revert(env.voucher, fn, env.admin.address, "ProgramExpired")


def test_withdraw_before_expiry_rejected(env: Env) -> None:
    fn = env.voucher.functions.withdrawExpired(PROGRAM)
    expect_revert(env.voucher, fn, env.admin.address, "ProgramNotExpired")


def _holders_program(env: Env, program_id: int, holders: int, expiry: int) -> None:
    env.create_program(program_id, start=env.chain.block_time(), expiry=expiry)
    recipients = [Account.create().address for _ in range(holders)]
    for start in range(0, holders, 100):
        env.grant(recipients[start : start + 100], 1_000, program_id=program_id)


def test_withdraw_expired_is_constant_gas(env: Env) -> None:
    expiry = env.chain.block_time() + 3_600
    _holders_program(env, 10, 10, expiry)
    _holders_program(env, 200, 200, expiry)
    env.mint_won(env.treasury, 1)  # both withdrawals then write a non-zero treasury balance
    advance(env.chain, 3_601)
    small = env.send(env.voucher.functions.withdrawExpired(10))
    large = env.send(env.voucher.functions.withdrawExpired(200))
    assert env.won(env.treasury) == 1 + 2 * BUDGET
    assert env.voucher.functions.conservation(200).call() == [0, 0, 0, 0]
    print(f"withdrawExpired gas: 10 holders {small['gasUsed']}, 200 holders {large['gasUsed']}")
    assert abs(small["gasUsed"] - large["gasUsed"]) < 300
    fn = env.voucher.functions.withdrawExpired(10)
    expect_revert(env.voucher, fn, env.admin.address, "AlreadyWithdrawn")


# -- property: random grant/claim/pay/refund/revoke sequences conserve money ------------------

CITIZENS = 3
LEAF_AMOUNTS = [50_000 * (i + 1) for i in range(CITIZENS)]
citizen_index = st.integers(0, CITIZENS - 1)
amount = st.integers(1, 400_000)
operation = st.one_of(
    st.tuples(st.just("grant"), citizen_index, amount),
    st.tuples(st.just("claim"), citizen_index, st.just(0)),
    st.tuples(st.just("revoke_leaf"), citizen_index, st.just(0)),
    st.tuples(st.just("pay"), citizen_index, amount),
    st.tuples(st.just("refund"), st.integers(0, 5), amount),
    st.tuples(st.just("revoke"), citizen_index, amount),
)
Operation = tuple[str, int, int]


@dataclass
class Model:
    """What the ledger and balances must be, predicted in Python."""

    balances: list[int]
    direct: list[int]
    leaf_open: list[bool]
    locked: int = BUDGET
    unclaimed: int = 0
    payments: list[list[Any]] = field(default_factory=list)  # [id, record, refunded]

    @property
    def unspent(self) -> int:
        return sum(self.balances)

    @property
    def unallocated(self) -> int:
        return self.locked - self.unspent - self.unclaimed


def _attempt(env: Env, fn: ContractFunction, sender: LocalAccount) -> dict[str, Any] | None:
    """Send `fn` if a call succeeds; None when the contract rejects it."""
    try:
        fn.call({"from": sender.address})
    except ContractCustomError:
        return None
    return env.send(fn, sender)


def _property_env(chain: Chain, admin: LocalAccount, new_account: MakeAccount) -> Env:
    token = deploy(chain, "DigitalWon", admin, admin.address)
    registry = deploy(chain, "MerchantRegistry", admin, admin.address)
    treasury = Account.create().address
    voucher = deploy(
        chain, "PolicyVoucher", admin, admin.address, token.address, registry.address, treasury
    )
    env = Env(chain, admin, token, registry, voucher, treasury, new_account)
    env.won_holders.add(admin.address)
    env.create_program(
        perPersonAmount=0,
        perPaymentCap=0,
        dailyCap=0,
        allowedCategories=[],
        blockedCategories=[],
        allowedDistricts=[],
    )
    return env


def _apply(
    env: Env, op: Operation, model: Model, citizens: list[LocalAccount], shop: LocalAccount
) -> None:
    kind, index, value = op
    functions, who = env.voucher.functions, citizens[index % CITIZENS]
    if kind == "grant":
        ok = value <= model.unallocated
        done = _attempt(env, functions.grantBatch(PROGRAM, [who.address], [value]), env.admin)
        if ok:
            model.balances[index] += value
            model.direct[index] += value
    elif kind in ("claim", "revoke_leaf"):
        leaf = leaf_hash(who.address, LEAF_AMOUNTS[index], 1)
        args = (PROGRAM, 1, who.address, LEAF_AMOUNTS[index], env.proofs[leaf])
        fn = functions.claim(*args) if kind == "claim" else functions.revokeRootGrant(*args)
        ok = model.leaf_open[index]
        done = _attempt(env, fn, env.admin)
        if ok:
            model.leaf_open[index] = False
            model.unclaimed -= LEAF_AMOUNTS[index]
            model.balances[index] += LEAF_AMOUNTS[index] if kind == "claim" else 0
    elif kind == "pay":
        ok = value <= model.balances[index]
        done = _attempt(env, functions.pay(PROGRAM, shop.address, value, ORDER), who)
        if ok and done is not None:
            model.balances[index] -= value
            model.locked -= value
            event = paid_event(env, done)
            record = (PROGRAM, who.address, shop.address, value, event["day"])
            model.payments.append([event["paymentId"], record, 0, index])
    elif kind == "refund":
        if not model.payments:
            return
        payment = model.payments[index % len(model.payments)]
        ok = value <= payment[1][3] - payment[2]
        done = _attempt(env, functions.refund(payment[0], payment[1], value), shop)
        if ok:
            payment[2] += value
            model.balances[payment[3]] += value
            model.locked += value
    else:  # revoke a direct grant
        ok = value <= min(model.direct[index], model.balances[index])
        done = _attempt(env, functions.revokeGrant(PROGRAM, who.address, value), env.admin)
        if ok:
            model.balances[index] -= value
            model.direct[index] -= value
    assert (done is not None) == ok, op


@given(st.lists(operation, min_size=1, max_size=12))
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_random_sequences_conserve_money(
    chain: Chain, admin: LocalAccount, new_account: MakeAccount, ops: list[Operation]
) -> None:
    env = _property_env(chain, admin, new_account)
    citizens = [new_account() for _ in range(CITIZENS)]
    env.holders.update(c.address for c in citizens)
    shop = env.merchant()
    leaves = [leaf_hash(c.address, a, 1) for c, a in zip(citizens, LEAF_AMOUNTS, strict=True)]
    root, env.proofs = merkle(leaves)
    env.send(env.voucher.functions.postRound(PROGRAM, 1, root, sum(LEAF_AMOUNTS)))
    model = Model([0] * CITIZENS, [0] * CITIZENS, [True] * CITIZENS, unclaimed=sum(LEAF_AMOUNTS))
    for op in ops:
        _apply(env, op, model, citizens, shop)
        assert [env.balance(c.address) for c in citizens] == model.balances
        assert env.voucher.functions.conservation(PROGRAM).call() == [
            model.locked,
            model.unspent,
            model.unclaimed,
            model.unallocated,
        ]


# -- more negative paths and a gas guard --------------------------------------------------


def test_claim_rejected_while_paused(env: Env) -> None:
    recipient = Account.create().address
    proofs = _round(env, [recipient, Account.create().address], 100_000)
    fn = env.voucher.functions.claim(
        PROGRAM, 1, recipient, 100_000, proofs[leaf_hash(recipient, 100_000, 1)]
    )
    env.send(env.voucher.functions.setProgramPaused(PROGRAM, True))
    expect_revert(env.voucher, fn, env.admin.address, "ProgramIsPaused")
    env.send(env.voucher.functions.setProgramPaused(PROGRAM, False))
    env.send(env.voucher.functions.pause())
    expect_revert(env.voucher, fn, env.admin.address, "EnforcedPause")
    env.send(env.voucher.functions.unpause())
    env.send(fn)
    assert env.balance(recipient) == 100_000


def test_refund_rejected_after_expiry(env: Env) -> None:
    now = env.chain.block_time()
    env.create_program(2, start=now, expiry=now + 1_000)
    payer = env.new_account()
    env.grant([payer.address], 5_000, program_id=2)
    shop = env.merchant()
    receipt = env.send(env.voucher.functions.pay(2, shop.address, 1_000, ORDER), payer)
    event = paid_event(env, receipt)
    record = (2, payer.address, shop.address, 1_000, event["day"])
    advance(env.chain, 1_001)
    fn = env.voucher.functions.refund(event["paymentId"], record, 1_000)
    expect_revert(env.voucher, fn, shop.address, "ProgramExpired")


def test_pay_batch_gas_per_payment(env: Env) -> None:
    payers = [env.new_account() for _ in range(20)]
    env.grant([p.address for p in payers], 10_000)
    shop = env.merchant()
    for payer in payers:  # each citizen's first payment of the day, with nonce 0
        env.send(
            env.voucher.functions.payBatch([env.sign_payment(payer, shop.address, 1, nonce=0)])
        )
    batch = [env.sign_payment(p, shop.address, 1_000, nonce=1) for p in payers]
    receipt = env.send(env.voucher.functions.payBatch(batch))
    assert _failures(env, receipt) == []
    per_payment = receipt["gasUsed"] // len(batch)
    print(f"payBatch gas: {receipt['gasUsed']} for {len(batch)} payments, {per_payment} each")
    assert per_payment < 80_000


def test_bitmap_nonces_are_independent(env: Env) -> None:
    payer = env.new_account()
    env.grant([payer.address], 100_000)
    shop = env.merchant()
    nonces = [255, 2**200 + 9]
    batch = [env.sign_payment(payer, shop.address, 1_000, nonce=n) for n in nonces]
    receipt = env.send(env.voucher.functions.payBatch(batch))
    assert _failures(env, receipt) == []
    used = env.voucher.functions.nonceUsed
    assert all(used(payer.address, n).call() for n in nonces)
    assert not any(used(payer.address, n).call() for n in (254, 511, 2**200 + 8, 2**200 + 265))
