"""A pure-Python model of PolicyVoucher and DigitalWon for the stateful test.

The model mirrors the contract's rules (see contracts/PolicyVoucher.sol): per program a ledger
(locked, unspent, unclaimed), voucher balances, direct grants, Merkle leaves, daily totals per
Korean calendar day; per payer the used payment nonces; per payment its record and refunds;
and the DigitalWon balance of every address that can hold it. Each method returns the revert
the contract must give (a custom error name) or applies the expected effect.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from busanchain.vouchers.reasons import Reason

KST_OFFSET_S = 9 * 3600
DAY_S = 86_400
LEAF_OPEN, LEAF_CLAIMED, LEAF_REVOKED = 0, 1, 2


def kst_day(timestamp: int) -> int:
    """The contract's day number: days since the epoch in Korea time."""
    return (timestamp + KST_OFFSET_S) // DAY_S


@dataclass(frozen=True)
class MerchantModel:
    """A merchant as the registry knows it (`registered` False = unknown address)."""

    address: str
    mcc: int
    district: int
    registered: bool = True


@dataclass
class LeafModel:
    """One Merkle leaf (recipient, amount) of a round."""

    recipient: str
    amount: int
    round_id: int
    index: int
    status: int = LEAF_OPEN


@dataclass
class PaymentRecordModel:
    """A successful payment, with what was refunded of it."""

    payment_id: int
    program_id: int
    payer: str
    merchant: str
    amount: int
    day: int
    refunded: int = 0


@dataclass
class ProgramModel:
    """One allowance program: rules, ledger and holders."""

    program_id: int
    budget: int
    per_person: int
    per_payment_cap: int
    daily_cap: int
    start: int
    expiry: int
    blocked: frozenset[int]
    allowed_districts: frozenset[int]
    locked: int = 0
    unspent: int = 0
    unclaimed: int = 0
    withdrawn: bool = False
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    direct: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    daily: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    leaves: list[LeafModel] = field(default_factory=list)

    def expired(self, now: int) -> bool:
        """Whether vouchers have expired at chain time `now`."""
        return now >= self.expiry

    @property
    def unallocated(self) -> int:
        """Backing neither granted nor reserved."""
        return self.locked - self.unspent - self.unclaimed

    def visible_balance(self, holder: str, now: int) -> int:
        """What balanceOf returns (0 after expiry)."""
        return 0 if self.expired(now) else self.balances[holder]

    def conservation(self) -> tuple[int, int, int, int]:
        """The expected PolicyVoucher.conservation(programId)."""
        return (self.locked, self.unspent, self.unclaimed, self.unallocated)


@dataclass(frozen=True)
class PaymentIntent:
    """One payment of a batch as the model sees it."""

    payer: str
    program_id: int
    merchant: str
    amount: int
    nonce: int
    deadline: int
    signature_ok: bool


class WorldModel:
    """Everything the chain should hold for one example."""

    def __init__(self, voucher: str, operator: str) -> None:
        self.voucher = voucher
        self.operator = operator  # also the treasury
        self.programs: dict[int, ProgramModel] = {}
        self.merchants: dict[str, MerchantModel] = {}
        self.used_nonces: dict[str, set[int]] = defaultdict(set)
        self.payments: dict[int, PaymentRecordModel] = {}
        self.tokens: dict[str, int] = defaultdict(int)
        self.total_supply = 0

    # -- token -------------------------------------------------------------------------------

    def mint(self, to: str, amount: int) -> None:
        """DigitalWon.mint."""
        self.tokens[to] += amount
        self.total_supply += amount

    def move(self, source: str, target: str, amount: int) -> None:
        """A DigitalWon transfer."""
        assert self.tokens[source] >= amount
        self.tokens[source] -= amount
        self.tokens[target] += amount

    @property
    def total_locked(self) -> int:
        """PolicyVoucher.totalLocked."""
        return sum(p.locked for p in self.programs.values())

    # -- programs ----------------------------------------------------------------------------

    def create_program(self, program: ProgramModel) -> None:
        """createProgram: pull the budget from the operator."""
        program.locked = program.budget
        self.programs[program.program_id] = program
        self.move(self.operator, self.voucher, program.budget)

    def post_round(self, program_id: int, leaves: list[LeafModel], total: int) -> None:
        """postRound: reserve `total` for the leaves."""
        program = self.programs[program_id]
        assert total <= program.unallocated
        program.unclaimed += total
        program.leaves.extend(leaves)

    # -- grants ------------------------------------------------------------------------------

    def grant_error(self, program_id: int, amounts: list[int], now: int) -> str | None:
        """Why grantBatch must revert, or None."""
        program = self.programs[program_id]
        if program.expired(now):
            return "ProgramExpired"
        for amount in amounts:
            if amount == 0:
                return "ZeroAmount"
            if program.per_person and amount > program.per_person:
                return "GrantAboveLimit"
        if sum(amounts) > program.unallocated:
            return "InsufficientUnallocated"
        return None

    def grant(self, program_id: int, grants: list[tuple[str, int]]) -> None:
        """grantBatch succeeded."""
        program = self.programs[program_id]
        for holder, amount in grants:
            program.unspent += amount
            program.balances[holder] += amount
            program.direct[holder] += amount

    def leaf_error(self, program_id: int, leaf: LeafModel, amount: int, now: int) -> str | None:
        """Why claim / revokeRootGrant of `leaf` (claimed as `amount`) must revert, or None."""
        program = self.programs[program_id]
        if program.expired(now):
            return "ProgramExpired"
        if amount != leaf.amount:
            return "InvalidProof"  # the tampered leaf is open but not under the root
        if leaf.status != LEAF_OPEN:
            return "LeafSettled"
        if program.per_person and leaf.amount > program.per_person:
            return "GrantAboveLimit"
        return None

    def claim(self, program_id: int, leaf: LeafModel) -> None:
        """claim succeeded."""
        program = self.programs[program_id]
        leaf.status = LEAF_CLAIMED
        program.unclaimed -= leaf.amount
        program.unspent += leaf.amount
        program.balances[leaf.recipient] += leaf.amount

    def revoke_leaf(self, program_id: int, leaf: LeafModel) -> None:
        """revokeRootGrant succeeded."""
        leaf.status = LEAF_REVOKED
        self.programs[program_id].unclaimed -= leaf.amount

    def revoke_error(self, program_id: int, holder: str, amount: int, now: int) -> str | None:
        """Why revokeGrant must revert, or None."""
        program = self.programs[program_id]
        if program.expired(now):
            return "ProgramExpired"
        if amount == 0:
            return "ZeroAmount"
        if amount > min(program.direct[holder], program.balances[holder]):
            return "RevokeTooLarge"
        return None

    def revoke(self, program_id: int, holder: str, amount: int) -> None:
        """revokeGrant succeeded."""
        program = self.programs[program_id]
        program.direct[holder] -= amount
        program.balances[holder] -= amount
        program.unspent -= amount

    # -- payments ----------------------------------------------------------------------------

    def payment_reason(self, p: PaymentIntent, now: int) -> Reason:
        """The first rule a signed payment breaks at chain time `now` (payBatch order)."""
        if now > p.deadline:
            return Reason.DEADLINE_PASSED
        if p.nonce in self.used_nonces[p.payer]:
            return Reason.NONCE_USED
        if not p.signature_ok:
            return Reason.BAD_SIGNATURE
        program = self.programs.get(p.program_id)
        if program is None:
            return Reason.UNKNOWN_PROGRAM
        if now < program.start:
            return Reason.NOT_STARTED
        if program.expired(now):
            return Reason.EXPIRED
        if p.amount == 0:
            return Reason.ZERO_AMOUNT
        merchant = self.merchants.get(p.merchant)
        if merchant is None or not merchant.registered:
            return Reason.MERCHANT_NOT_REGISTERED
        if merchant.mcc in program.blocked:
            return Reason.CATEGORY_BLOCKED
        if program.allowed_districts and merchant.district not in program.allowed_districts:
            return Reason.DISTRICT_NOT_ALLOWED
        if program.per_payment_cap and p.amount > program.per_payment_cap:
            return Reason.OVER_PAYMENT_CAP
        day = kst_day(now)
        if program.daily_cap and program.daily[(p.payer, day)] + p.amount > program.daily_cap:
            return Reason.OVER_DAILY_CAP
        if program.balances[p.payer] < p.amount:
            return Reason.INSUFFICIENT_BALANCE
        return Reason.NONE

    def pay(self, p: PaymentIntent, now: int) -> PaymentRecordModel:
        """A payment succeeded at chain time `now`: burn, pay the merchant, record it."""
        program = self.programs[p.program_id]
        day = kst_day(now)
        self.used_nonces[p.payer].add(p.nonce)
        program.daily[(p.payer, day)] += p.amount
        program.locked -= p.amount
        program.unspent -= p.amount
        program.balances[p.payer] -= p.amount
        self.move(self.voucher, p.merchant, p.amount)
        record = PaymentRecordModel(
            len(self.payments) + 1, p.program_id, p.payer, p.merchant, p.amount, day
        )
        self.payments[record.payment_id] = record
        return record

    def refund_error(self, record: PaymentRecordModel, sender: str, amount: int, now: int) -> str:
        """Why a refund must revert ('' when it succeeds)."""
        if sender != record.merchant:
            return "NotPaymentMerchant"
        if amount == 0:
            return "ZeroAmount"
        if self.programs[record.program_id].expired(now):
            return "ProgramExpired"
        if amount > record.amount - record.refunded:
            return "RefundTooLarge"
        return ""

    def refund(self, record: PaymentRecordModel, amount: int) -> None:
        """A refund succeeded: the merchant returns DigitalWon, the payer gets vouchers back."""
        program = self.programs[record.program_id]
        record.refunded += amount
        program.locked += amount
        program.unspent += amount
        program.balances[record.payer] += amount
        key = (record.payer, record.day)
        program.daily[key] -= min(amount, program.daily[key])
        self.move(record.merchant, self.voucher, amount)

    # -- expiry ------------------------------------------------------------------------------

    def withdraw_error(self, program_id: int, now: int) -> str | None:
        """Why withdrawExpired must revert, or None."""
        program = self.programs[program_id]
        if not program.expired(now):
            return "ProgramNotExpired"
        if program.withdrawn:
            return "AlreadyWithdrawn"
        return None

    def withdraw(self, program_id: int) -> int:
        """withdrawExpired succeeded: the treasury gets the remaining backing."""
        program = self.programs[program_id]
        amount = program.locked
        program.withdrawn = True
        program.locked = program.unspent = program.unclaimed = 0
        self.move(self.voucher, self.operator, amount)
        return amount
