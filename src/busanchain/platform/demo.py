"""Demo data for `busanchain up --demo`: users, DigitalWon deposits and a few payments.

Loading is idempotent: a second run finds the demo users and changes nothing. Demo accounts
share one published password and exist only for local trials; never load them on a network
that real people use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from busanchain.accounts import repository as accounts_repository
from busanchain.accounts.service import account_service_for
from busanchain.domain.errors import BusanchainError, Conflict
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.outbox.service import raise_for_outcome
from busanchain.platform.runtime import PlatformRuntime
from busanchain.token.service import TokenService

log = logging.getLogger(__name__)

DEMO_PASSWORD = "busan-demo-2026"  # noqa: S105 (a published demo password)


@dataclass(frozen=True)
class DemoUser:
    """A demo account and what it starts with."""

    username: str
    role: Role
    deposit: int = 0


DEMO_USERS = (
    DemoUser("official", Role.OFFICIAL),
    DemoUser("auditor", Role.AUDITOR),
    DemoUser("developer", Role.DEVELOPER),
    DemoUser("citizen1", Role.CITIZEN, 300_000),
    DemoUser("citizen2", Role.CITIZEN, 150_000),
    DemoUser("merchant1", Role.MERCHANT),
    DemoUser("studio1", Role.STUDIO),
)
DEMO_PAYMENTS = (
    ("citizen1", "merchant1", 12_000),
    ("citizen2", "merchant1", 8_500),
    ("citizen1", "citizen2", 5_000),
)


def load_demo_data(runtime: PlatformRuntime) -> list[str]:
    """Create the demo users, fund citizens and make a few payments; returns the usernames."""
    accounts = account_service_for(runtime.context)
    ids: dict[str, int] = {}
    created = False
    for demo in DEMO_USERS:
        try:
            ids[demo.username] = accounts.create_user(demo.username, DEMO_PASSWORD, [demo.role]).id
            created = True
        except Conflict:
            ids[demo.username] = _existing_user_id(runtime, demo.username)
    if created:
        _fund_and_pay(runtime, ids)
    return [d.username for d in DEMO_USERS]


def load_allowance_demo(runtime: PlatformRuntime) -> list[str]:
    """Demo shops, allowance programs with residents and grants (idempotent); lines to print.

    Runs after `load_demo_data`, whose users it reuses (merchant1 owns a shop, citizen1 and
    citizen2 are enrolled residents, "official" approves and disburses).
    """
    from busanchain.gallery.demo import load_photo_demo  # studio and gallery (issue 4)
    from busanchain.merchants.demo import load_demo_merchants, load_demo_settlements
    from busanchain.programs.demo import load_demo_programs

    ids = {d.username: _existing_user_id(runtime, d.username) for d in DEMO_USERS}
    lines = load_demo_merchants(runtime.context, ids)
    lines += load_demo_programs(runtime.context, ids)
    lines += _demo_voucher_payments(runtime)
    lines += load_demo_settlements(runtime.context, ids["merchant1"], ids["official"])
    lines += load_photo_demo(runtime.context, ids)
    return lines


# (payer, merchant owner, program id, amount): youth allowance (program 1) is claimed on first
# use; family allowance (program 2) was granted directly. Shops differ in category and
# district so that the officials' dashboard has something to chart.
DEMO_VOUCHER_PAYMENTS = (
    ("citizen1", "merchant1", 2, 12_000),
    ("citizen1", "merchant2", 1, 8_000),
    ("citizen2", "merchant4", 1, 15_000),
    ("citizen2", "merchant5", 2, 6_500),
    ("citizen1", "merchant6", 2, 4_200),
)
DEMO_REFUND = 2_000  # merchant1 refunds part of citizen1's first payment


def _demo_voucher_payments(runtime: PlatformRuntime) -> list[str]:
    """A few voucher payments and one refund (idempotent: fixed Idempotency-Keys)."""
    from busanchain.merchants.service import merchant_service_for
    from busanchain.payments.refunds import RefundService
    from busanchain.payments.service import PaymentService, PayRequest

    payments = PaymentService(runtime.context)
    merchants = merchant_service_for(runtime.context)
    done: list[int] = []
    for n, (payer, owner, program_id, amount) in enumerate(DEMO_VOUCHER_PAYMENTS, start=1):
        shop = merchants.by_owner(_existing_user_id(runtime, owner))
        if shop is None:
            continue
        request = PayRequest(program_id, shop.code, amount, order_id=f"demo-{n}")
        try:
            status, answer = payments.pay(
                _existing_user_id(runtime, payer), request, f"demo-voucher-pay-{n}", wait_s=15
            )
        except BusanchainError as exc:  # a demo must never stop the platform from starting
            log.warning("demo payment %s skipped: %s", n, exc.message_en)
            continue
        if status == 200:
            done.append(int(answer["payment"]["id"]))
    if done:
        merchant1 = _existing_user_id(runtime, "merchant1")
        try:
            RefundService(runtime.context).refund(
                merchant1, done[0], DEMO_REFUND, "demo-voucher-refund-1", wait_s=15
            )
        except BusanchainError as exc:
            log.warning("demo refund skipped: %s", exc.message_en)
    return [f"  정책수당 결제 / voucher payments: {len(done)} confirmed, 1 refund"]


def _existing_user_id(runtime: PlatformRuntime, username: str) -> int:
    with runtime.context.unit_of_work() as session:
        record = accounts_repository.user_by_login(session, username)
        if record is None:
            raise Conflict(f"The demo user name {username} is taken by an e-mail login.")
        return record.id


def _fund_and_pay(runtime: PlatformRuntime, ids: dict[str, int]) -> None:
    token = TokenService(runtime.context)
    keys = key_service_for(runtime.context)
    address = {name: keys.custodial_address(user_id) or "" for name, user_id in ids.items()}
    for demo in DEMO_USERS:
        if demo.deposit:
            with runtime.context.unit_of_work() as session:
                entry = token.enqueue_issue(
                    session,
                    issuer=runtime.operator,
                    to=address[demo.username],
                    amount=demo.deposit,
                    deposit_ref=f"demo-deposit-{demo.username}",
                    owner=None,
                )
            _finish(token, entry.id)
    for payer, payee, amount in DEMO_PAYMENTS:
        signer = keys.signer_for_user(ids[payer])
        with runtime.context.unit_of_work() as session:
            entry = token.enqueue_transfer(
                session,
                relayer=runtime.operator,
                payer=signer,
                to=address[payee],
                amount=amount,
                owner=None,
            )
        _finish(token, entry.id)
    log.info("demo data loaded")


def _finish(token: TokenService, entry_id: int) -> None:
    token.outbox.broadcast(entry_id)
    raise_for_outcome(token.outbox.wait(entry_id))
