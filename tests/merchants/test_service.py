"""MerchantService against a real anvil node and a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from busanchain.domain.errors import Conflict, NotFound, TransactionReverted, ValidationFailed
from busanchain.merchants.rules import (
    business_number_hash,
    day_bounds_utc,
    parse_business_number,
    parse_code,
)
from busanchain.merchants.service import MerchantService
from busanchain.merchants.tables import MerchantRecord, MerchantStatus, SettlementRecord
from busanchain.outbox.tables import OutboxEntry, OutboxState
from busanchain.payments.tables import PaymentState
from busanchain.platform.operator import operator_signer
from tests.merchants.conftest import (
    active_merchant,
    add_payment,
    add_program,
    add_refund,
    bad_bizno,
    bizno,
    new_merchant_user,
)


def mint(service: MerchantService, to: str, amount: int, ref: bytes) -> None:
    """Issue DigitalWon to an address (the operator is the issuer)."""
    token = service.chain.token
    service.outbox.execute(
        signer=operator_signer(service.context.settings),
        intent="test.mint",
        to=token.address,
        data=service.chain.calldata(token, "mint", [to, amount, ref]),
    )


# -- business numbers ----------------------------------------------------------------------


@pytest.mark.parametrize("nine", ["220816251", "123456789", "000000000", "605861340"])
def test_valid_business_numbers_parse_with_or_without_dashes(nine: str) -> None:
    number = bizno(nine)
    assert parse_business_number(number) == number.replace("-", "")
    assert parse_business_number(number.replace("-", "")) == number.replace("-", "")


@pytest.mark.parametrize(
    "value",
    [bad_bizno("220816251"), bad_bizno("123456789"), "12-345-67890", "123456789", "abcdefghij", ""],
)
def test_invalid_business_numbers_are_refused(value: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_business_number(value)


def test_a_known_real_number_passes_the_check_digit() -> None:
    assert parse_business_number("220-81-62517") == "2208162517"  # a published company number


# -- apply, approve, suspend, reactivate ------------------------------------------------------


def test_apply_then_approve_registers_the_merchant_on_chain(
    service: MerchantService, official_id: int
) -> None:
    user_id = new_merchant_user(service.context, "shop_a")
    number = bizno("220816251")
    view = service.apply(user_id, "해운대 국밥", "Haeundae Gukbap", number, "5812", "26350", None)
    assert view.status == MerchantStatus.APPLIED
    assert parse_code(view.code) == view.code
    registry = service.chain.registry
    assert service.chain.read_one(registry, "isRegistered", [view.wallet_address]) is False

    approved = service.approve(view.id, official_id)

    assert approved.status == MerchantStatus.ACTIVE
    entry = service.chain.read_one(registry, "merchantOf", [view.wallet_address])
    assert "0x" + bytes(entry[0]).hex() == business_number_hash(number.replace("-", ""))
    assert (entry[1], entry[2], entry[3]) == (5812, 26350, True)
    assert service.chain.read_one(registry, "isActive", [view.wallet_address]) is True
    # where gas cost something at approval, the wallet was sent ether for its own refunds
    # (anvil's suggested tip follows recent blocks: it is 0 after other tests' zero-tip
    # transactions, and then nothing is queued); whatever was queued must have arrived
    # (the top-up is broadcast after the registry call, so it may be mined a block later)
    with service.context.unit_of_work() as session:
        funded = list(
            session.scalars(
                select(OutboxEntry.id).where(
                    OutboxEntry.reference == f"merchant-wallet:{view.wallet_address}"
                )
            )
        )
    assert len(funded) <= 1
    for entry_id in funded:
        assert service.outbox.wait(entry_id, 30).status == OutboxState.CONFIRMED
    balance = service.outbox.client.request("eth_getBalance", [view.wallet_address, "latest"])
    assert (int(balance, 16) > 0) == (len(funded) == 1)
    # approving again is a no-op
    assert service.approve(view.id, official_id).status == MerchantStatus.ACTIVE


def test_a_pending_registration_is_finished_by_approving_again(
    service: MerchantService, official_id: int
) -> None:
    user_id = new_merchant_user(service.context, "shop_pending")
    view = service.apply(user_id, "가게", None, bizno("111111111"), 5411, 26110, None)
    with service.context.unit_of_work() as session:
        record = session.get(MerchantRecord, view.id)
        assert record is not None
        record.status = MerchantStatus.REGISTERING  # as if the process died after the commit
    # nothing on chain and no entry: the record goes back to applied with an error
    with pytest.raises(TransactionReverted):  # nothing was sent
        service.approve(view.id, official_id)
    assert service.get(view.id).status == MerchantStatus.APPLIED
    assert service.approve(view.id, official_id).status == MerchantStatus.ACTIVE


def test_suspend_and_reactivate_on_chain(service: MerchantService, official_id: int) -> None:
    view = active_merchant(service, "shop_s", official_id, nine="333333333")
    registry = service.chain.registry

    suspended = service.suspend(view.id, official_id, "민원 조사")
    assert suspended.status == MerchantStatus.SUSPENDED
    assert service.chain.read_one(registry, "isActive", [view.wallet_address]) is False
    assert service.suspend(view.id, official_id).status == MerchantStatus.SUSPENDED  # idempotent

    reactivated = service.reactivate(view.id, official_id)
    assert reactivated.status == MerchantStatus.ACTIVE
    assert service.chain.read_one(registry, "isActive", [view.wallet_address]) is True


def test_update_changes_category_and_district_on_chain(
    service: MerchantService, official_id: int
) -> None:
    view = active_merchant(service, "shop_u", official_id, nine="444444444")
    updated = service.update(view.id, official_id, mcc=5812, district="26260")
    assert (updated.mcc, updated.district) == (5812, 26260)
    entry = service.chain.read_one(service.chain.registry, "merchantOf", [view.wallet_address])
    assert (entry[1], entry[2], entry[3]) == (5812, 26260, True)


def test_duplicate_business_number_conflicts_and_leaves_no_row(service: MerchantService) -> None:
    number = bizno("555555555")
    first = new_merchant_user(service.context, "dup_a")
    second = new_merchant_user(service.context, "dup_b")
    service.apply(first, "가게 A", None, number, 5411, 26350, None)
    with pytest.raises(Conflict):
        service.apply(second, "가게 B", None, number.replace("-", ""), 5411, 26350, None)
    with pytest.raises(Conflict):  # one shop per owner
        service.apply(first, "가게 C", None, bizno("555555556"), 5411, 26350, None)
    with service.context.unit_of_work() as session:
        assert session.scalar(select(func.count(MerchantRecord.id))) == 1


def test_a_rejected_application_may_apply_again(service: MerchantService, official_id: int) -> None:
    user_id = new_merchant_user(service.context, "again")
    view = service.apply(user_id, "가게", None, bizno("666666666"), 5411, 26350, None)
    assert service.reject(view.id, official_id, "서류 미비").status == MerchantStatus.REJECTED
    with pytest.raises(Conflict):
        service.reject(view.id, official_id, None)
    with pytest.raises(Conflict):
        service.suspend(view.id, official_id)
    again = service.apply(user_id, "가게", None, bizno("666666666"), 5411, 26350, None)
    assert again.status == MerchantStatus.APPLIED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mcc", "0000"),
        ("mcc", "abc"),
        ("district", "11110"),
        ("district", ""),
        ("name", ""),
        ("name", "x" * 101),
        ("name", "bad\u0000name"),
    ],
)
def test_bad_application_fields_are_refused(
    service: MerchantService, field: str, value: str
) -> None:
    user_id = new_merchant_user(service.context, "bad_fields")
    args = {"mcc": "5411", "district": "26350", "name": "가게"}
    args[field] = value
    with pytest.raises(ValidationFailed):
        service.apply(
            user_id, args["name"], None, bizno("777777777"), args["mcc"], args["district"], None
        )
    assert service.by_owner(user_id) is None


# -- search --------------------------------------------------------------------------------


def test_search_filters_by_district_category_query_and_program(
    service: MerchantService, official_id: int
) -> None:
    mart = active_merchant(
        service,
        "shop1",
        official_id,
        nine="100000001",
        mcc=5411,
        district=26350,
        name="해운대 마트",
    )
    cafe = active_merchant(
        service, "shop2", official_id, nine="100000002", mcc=5814, district=26350, name="바다 카페"
    )
    bar = active_merchant(
        service, "shop3", official_id, nine="100000003", mcc=5813, district=26260, name="동래 주점"
    )
    waiting = new_merchant_user(service.context, "shop4")
    service.apply(waiting, "대기 가게", None, bizno("100000004"), 5411, 26350, None)
    with service.context.unit_of_work() as session:
        add_program(session, 901, blocked_categories=[5813])
        add_program(session, 902, allowed_categories=[5411], allowed_districts=[26350, 26260])
        add_program(session, 903, allowed_districts=[26260])

    def codes(**kwargs: object) -> set[str]:
        return {m.code for m in service.search(**kwargs)}  # type: ignore[arg-type]

    assert codes() == {mart.code, cafe.code, bar.code}  # only active shops
    assert codes(district=26350) == {mart.code, cafe.code}
    assert codes(mcc=5813) == {bar.code}
    assert codes(query="카페") == {cafe.code}
    assert codes(query=mart.code.lower()) == {mart.code}
    assert codes(program_id=901) == {mart.code, cafe.code}
    assert codes(program_id=902) == {mart.code}
    assert codes(program_id=903) == {bar.code}
    assert codes(program_id=903, district=26350) == set()
    assert codes(program_id=901, mcc=5813) == set()
    with pytest.raises(NotFound):
        service.search(program_id=999)
    with pytest.raises(ValidationFailed):
        service.search(district=11110)
    with pytest.raises(ValidationFailed):
        service.search(page=0)


# -- redemption ----------------------------------------------------------------------------


def test_redemption_burns_exactly_once_per_key(service: MerchantService, official_id: int) -> None:
    view = active_merchant(service, "redeemer", official_id, nine="200000001")
    mint(service, view.wallet_address, 50_000, b"\x01" * 32)
    supply_before = service.chain.read_one(service.chain.token, "totalSupply", [])

    status, answer = service.redeem(view.owner_user_id, 30_000, "redeem-key-0001")
    again_status, again = service.redeem(view.owner_user_id, 30_000, "redeem-key-0001")

    assert status == 200, answer
    assert answer["state"] == "burned"  # burned on chain; the KRW transfer is awaited
    assert answer["bank_reference"] is None
    assert (again_status, again) == (status, answer)
    assert service.chain.token_balance(view.wallet_address) == 20_000
    supply_after = service.chain.read_one(service.chain.token, "totalSupply", [])
    assert supply_before - supply_after == 30_000
    ref = bytes.fromhex(answer["redemption_ref"][2:])
    assert service.chain.read_one(service.chain.token, "redemptionReferenceUsed", [ref]) is True
    with service.context.unit_of_work() as session:
        assert session.scalar(select(func.count(SettlementRecord.id))) == 1

    # a new key redeems again; more than the balance is refused with nothing stored
    assert service.redeem(view.owner_user_id, 5_000, "redeem-key-0002")[0] == 200
    with pytest.raises(ValidationFailed):
        service.redeem(view.owner_user_id, 15_001, "redeem-key-0003")
    with pytest.raises(ValidationFailed):
        service.redeem(view.owner_user_id, 0, "redeem-key-0004")
    with pytest.raises(ValidationFailed):
        service.redeem(view.owner_user_id, 10, None)
    assert service.chain.token_balance(view.wallet_address) == 15_000
    with service.context.unit_of_work() as session:
        assert session.scalar(select(func.count(SettlementRecord.id))) == 2


# -- daily report ----------------------------------------------------------------------------


def test_daily_report_sums_payments_refunds_and_redemptions(
    service: MerchantService, official_id: int
) -> None:
    view = active_merchant(service, "reporter", official_id, nine="300000001")
    other = active_merchant(service, "other_shop", official_id, nine="300000002")
    day = date(2026, 11, 20)
    start, _end = day_bounds_utc(day)
    with service.context.unit_of_work() as session:
        p1 = add_payment(session, view, 12_000, day, nonce=1)
        add_payment(session, view, 8_000, day, nonce=2)
        add_payment(session, view, 5_000, day, nonce=3, state=PaymentState.FAILED)
        add_payment(session, view, 7_000, day + timedelta(days=1), nonce=4)
        add_payment(session, other, 9_999, day, nonce=5)
        add_refund(session, p1, 2_000, start + timedelta(hours=1))
        add_refund(session, p1, 1_000, start - timedelta(minutes=1))  # the KST day before
        session.add(
            SettlementRecord(
                merchant_id=view.id,
                amount=4_000,
                redemption_ref="0x" + "ab" * 32,
                state="paid",
                business_day=day,
            )
        )

    report = service.daily_report(view.id, day)

    assert report["payments"] == {"count": 2, "gross": 20_000}
    assert report["refunds"] == {"count": 1, "amount": 2_000}
    assert report["net"] == 18_000
    assert report["redemptions"] == {"count": 1, "amount": 4_000}
    series = service.daily_series(view.id, day + timedelta(days=1))
    assert len(series) == 14
    assert series[-1]["payments"]["gross"] == 7_000
    assert series[-2]["payments"]["gross"] == 20_000
    assert datetime.now(UTC) > start


def test_a_committed_but_unsent_registration_is_sent_by_approving_again(
    service: MerchantService, official_id: int
) -> None:
    """As if the process died between the outbox commit and the broadcast."""
    user_id = new_merchant_user(service.context, "shop_crashed")
    view = service.apply(user_id, "가게", None, bizno("121212121"), 5411, 26110, None)
    registry = service.chain.registry
    number_hash = business_number_hash(bizno("121212121").replace("-", ""))
    data = service.chain.calldata(
        registry, "register", [view.wallet_address, bytes.fromhex(number_hash[2:]), 5411, 26110]
    )
    with service.context.unit_of_work() as session:
        entry = service.outbox.enqueue(
            session,
            signer=service.operator,
            intent="merchants.register",
            to=registry.address,
            data=data,
        )
        record = session.get(MerchantRecord, view.id)
        assert record is not None
        record.status, record.registry_entry_id = MerchantStatus.REGISTERING, entry.id
    assert service.chain.read_one(registry, "isRegistered", [view.wallet_address]) is False

    assert service.approve(view.id, official_id).status == MerchantStatus.ACTIVE
    assert service.chain.read_one(registry, "isActive", [view.wallet_address]) is True


def test_a_redemption_cut_off_after_its_commit_is_finished_by_the_same_key(
    service: MerchantService, official_id: int
) -> None:
    """The key, settlement and both transactions commit together; a retry sends and settles."""
    from busanchain.idempotency.service import IdempotencyService, request_fingerprint
    from busanchain.keys.service import key_service_for
    from busanchain.merchants.service import REDEEM_PATH

    view = active_merchant(service, "cut_off", official_id, nine="200000002")
    mint(service, view.wallet_address, 9_000, b"\x02" * 32)
    holder = key_service_for(service.context).signer_for_user(view.owner_user_id)
    scope = f"merchants.redeem:user:{view.owner_user_id}"
    fingerprint = request_fingerprint("POST", REDEEM_PATH, {"amount": 4_000})
    stored = IdempotencyService(service.context).run(
        scope,
        "cut-off-key-01",
        fingerprint,
        lambda session: service._enqueue_redemption(session, view, holder, 4_000),
    )
    assert stored.body["state"] == "pending"
    assert service.chain.token_balance(view.wallet_address) == 9_000  # nothing sent yet

    status, answer = service.redeem(view.owner_user_id, 4_000, "cut-off-key-01")
    assert (status, answer["state"]) == (200, "burned")
    assert service.redeem(view.owner_user_id, 4_000, "cut-off-key-01")[1] == answer
    assert service.chain.token_balance(view.wallet_address) == 5_000
    with service.context.unit_of_work() as session:
        assert session.scalar(select(func.count(SettlementRecord.id))) == 1
