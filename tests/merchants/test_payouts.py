"""The settlement life cycle pending -> burned -> paid, on a real chain and the web app."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from busanchain.domain.errors import Conflict, IdempotencyConflict, NotFound, ValidationFailed
from busanchain.domain.roles import Role
from busanchain.idempotency.tables import IdempotencyRecord
from busanchain.merchants.payouts import TRANSFER_COLUMNS, PayoutService
from busanchain.merchants.service import MerchantService, MerchantView
from busanchain.merchants.shop_edits import ShopEditService
from busanchain.merchants.tables import SettlementRecord, SettlementState
from busanchain.platform.context import PlatformContext
from tests.merchants.conftest import (
    Actor,
    active_merchant,
    actor,
    add_payment,
    bizno,
    new_official,
)
from tests.merchants.test_service import mint

DAY = date(2026, 11, 20)


def add_settlement(
    context: PlatformContext, view: MerchantView, amount: int, state: str, n: int
) -> int:
    """A settlement row as `redeem` leaves it (no chain needed for the paid step itself)."""
    with context.unit_of_work() as session:
        record = SettlementRecord(
            merchant_id=view.id,
            amount=amount,
            redemption_ref="0x" + f"{n:02x}" * 32,
            state=state,
            business_day=DAY,
        )
        session.add(record)
        session.flush()
        return record.id


def settlement(context: PlatformContext, settlement_id: int) -> SettlementRecord:
    with context.unit_of_work() as session:
        record = session.get(SettlementRecord, settlement_id)
        assert record is not None
        session.expunge(record)
        return record


@pytest.fixture
def payouts(platform: PlatformContext) -> PayoutService:
    return PayoutService(platform)


# -- life cycle on the chain -----------------------------------------------------------------


def test_redeem_burns_then_an_official_marks_it_paid(
    service: MerchantService, payouts: PayoutService, official_id: int
) -> None:
    view = active_merchant(service, "lifecycle", official_id, nine="500000001")
    mint(service, view.wallet_address, 20_000, b"\x05" * 32)

    status, answer = service.redeem(view.owner_user_id, 12_000, "life-redeem-01")

    assert (status, answer["state"], answer["bank_reference"]) == (200, "burned", None)
    assert service.chain.token_balance(view.wallet_address) == 8_000
    awaiting = payouts.lines(SettlementState.BURNED)
    assert [line.settlement["settlement_id"] for line in awaiting] == [answer["settlement_id"]]
    assert service.settlements(view.id)[0]["state"] == "burned"

    status, paid = payouts.mark_paid(answer["settlement_id"], official_id, " KB-7781 ", "pay-01ab")

    assert (status, paid["state"], paid["bank_reference"]) == (200, "paid", "KB-7781")
    assert paid["paid_at"] is not None
    mine = service.settlements(view.id)[0]
    assert (mine["state"], mine["bank_reference"]) == ("paid", "KB-7781")
    assert payouts.lines(SettlementState.BURNED) == []
    record = settlement(service.context, answer["settlement_id"])
    assert record.paid_by == official_id
    # the redemption's own key still replays its first answer; nothing burns again
    assert service.redeem(view.owner_user_id, 12_000, "life-redeem-01") == (200, answer)
    assert service.chain.token_balance(view.wallet_address) == 8_000


# -- the paid step's rules -------------------------------------------------------------------


def test_marking_paid_is_idempotent_and_a_different_reference_conflicts(
    service: MerchantService, payouts: PayoutService, official_id: int
) -> None:
    view = active_merchant(service, "idem_shop", official_id, nine="500000002")
    first = add_settlement(service.context, view, 7_000, SettlementState.BURNED, 1)
    second = add_settlement(service.context, view, 2_000, SettlementState.BURNED, 2)

    answer = payouts.mark_paid(first, official_id, "BNK-1", "paid-key-0001")
    assert payouts.mark_paid(first, official_id, "BNK-1", "paid-key-0001") == answer  # replay
    with pytest.raises(IdempotencyConflict):  # same key, another body
        payouts.mark_paid(first, official_id, "BNK-2", "paid-key-0001")
    assert payouts.mark_paid(first, official_id, "BNK-1", "paid-key-0002") == answer
    with pytest.raises(Conflict) as other_reference:
        payouts.mark_paid(first, official_id, "BNK-2", "paid-key-0003")
    assert other_reference.value.status == 409
    with pytest.raises(Conflict):  # one transfer reference cannot pay two settlements
        payouts.mark_paid(second, official_id, "BNK-1", "paid-key-0004")
    assert settlement(service.context, first).bank_reference == "BNK-1"
    assert settlement(service.context, second).state == SettlementState.BURNED
    # a failed key leaves the key free for a corrected request
    assert payouts.mark_paid(second, official_id, "BNK-3", "paid-key-0004")[0] == 200


@pytest.mark.parametrize("state", [SettlementState.PENDING, SettlementState.FAILED])
def test_only_burned_settlements_can_be_paid(
    service: MerchantService, payouts: PayoutService, official_id: int, state: str
) -> None:
    view = active_merchant(service, f"early_{state}", official_id, nine="500000003")
    settlement_id = add_settlement(service.context, view, 1_000, state, 3)
    with pytest.raises(Conflict):
        payouts.mark_paid(settlement_id, official_id, "BNK-9", "early-key-01")
    with pytest.raises(NotFound):
        payouts.mark_paid(999_999, official_id, "BNK-9", "early-key-02")
    assert settlement(service.context, settlement_id).state == state


@pytest.mark.parametrize(
    ("reference", "key"),
    [
        ("", "ref-key-0001"),
        ("   ", "ref-key-0001"),
        ("x" * 65, "ref-key-0001"),
        ("BNK\u0000-1", "ref-key-0001"),
        ("BNK\t1", "ref-key-0001"),
        ("BNK\u200b1", "ref-key-0001"),
        (None, "ref-key-0001"),
        ("BNK-1", None),
        ("BNK-1", "short"),
    ],
)
def test_bad_references_and_keys_are_refused_and_change_nothing(
    service: MerchantService,
    payouts: PayoutService,
    official_id: int,
    reference: str | None,
    key: str | None,
) -> None:
    view = active_merchant(service, "bad_ref", official_id, nine="500000004")
    settlement_id = add_settlement(service.context, view, 1_000, SettlementState.BURNED, 4)
    with pytest.raises(ValidationFailed) as refused:
        payouts.mark_paid(settlement_id, official_id, reference, key)
    assert refused.value.message("ko") != refused.value.message("en")
    record = settlement(service.context, settlement_id)
    assert (record.state, record.bank_reference) == (SettlementState.BURNED, None)
    with service.context.unit_of_work() as session:
        assert session.scalar(select(func.count(IdempotencyRecord.id))) == 0


def test_a_64_character_printable_reference_is_accepted(
    service: MerchantService, payouts: PayoutService, official_id: int
) -> None:
    view = active_merchant(service, "long_ref", official_id, nine="500000005")
    settlement_id = add_settlement(service.context, view, 1_000, SettlementState.BURNED, 5)
    reference = "부산은행 이체 " + "9" * 56
    assert len(reference) == 64
    _status, answer = payouts.mark_paid(settlement_id, official_id, reference, "long-ref-01")
    assert answer["bank_reference"] == reference


# -- daily report ------------------------------------------------------------------------------


def test_daily_report_splits_burned_into_paid_and_awaiting(
    service: MerchantService, payouts: PayoutService, official_id: int
) -> None:
    view = active_merchant(service, "report_shop", official_id, nine="500000006")
    with service.context.unit_of_work() as session:
        add_payment(session, view, 30_000, DAY, nonce=1)
    paid = add_settlement(service.context, view, 4_000, SettlementState.BURNED, 6)
    add_settlement(service.context, view, 2_500, SettlementState.BURNED, 7)
    add_settlement(service.context, view, 9_000, SettlementState.PENDING, 8)
    add_settlement(service.context, view, 8_000, SettlementState.FAILED, 9)

    before = service.daily_report(view.id, DAY)
    assert before["redemptions"] == {"count": 2, "amount": 6_500}
    assert before["paid"] == {"count": 0, "amount": 0}
    assert before["awaiting_transfer"] == {"count": 2, "amount": 6_500}

    payouts.mark_paid(paid, official_id, "BNK-R1", "report-key-01")
    report = service.daily_report(view.id, DAY)

    assert report["redemptions"] == {"count": 2, "amount": 6_500}  # burned: unchanged
    assert report["paid"] == {"count": 1, "amount": 4_000}
    assert report["awaiting_transfer"] == {"count": 1, "amount": 2_500}
    assert (
        report["paid"]["amount"] + report["awaiting_transfer"]["amount"]
        == report["redemptions"]["amount"]
    )
    assert report["net"] == 30_000


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def people(platform: PlatformContext) -> Iterator[dict[str, Actor]]:
    made = {
        "official": actor(platform, "payout_official", Role.OFFICIAL),
        "auditor": actor(platform, "payout_auditor", Role.AUDITOR),
        "shop": actor(platform, "payout_shop", Role.MERCHANT),
        "citizen": actor(platform, "payout_citizen", Role.CITIZEN),
    }
    yield made
    for who in made.values():
        who.client.close()


def shop_with_account(platform: PlatformContext, shop: Actor) -> MerchantView:
    service = MerchantService(platform)
    view = service.apply(
        shop.user_id, "송정 서핑 카페", "Songjeong Surf Cafe", bizno("617810018"), 5814, 26350, None
    )
    view = service.approve(view.id, new_official(platform, "approver_x"))
    ShopEditService(platform, service).edit_own(
        shop.user_id, {"bank_code": "032", "bank_account_number": "101-2030-4050-60"}
    )
    return view


def post_paid(who: Actor, settlement_id: int, reference: str, key: str | None) -> Any:
    headers = dict(who.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return who.client.post(
        f"/api/merchants/settlements/{settlement_id}/paid",
        json={"bank_reference": reference},
        headers=headers,
    )


def test_paid_api_roles_idempotency_and_conflict(
    platform: PlatformContext, people: dict[str, Actor]
) -> None:
    view = shop_with_account(platform, people["shop"])
    settlement_id = add_settlement(platform, view, 15_000, SettlementState.BURNED, 10)

    for who in ("shop", "auditor", "citizen"):
        refused = post_paid(people[who], settlement_id, "BNK-X", f"role-key-{who}")
        assert refused.status_code == 403, (who, refused.text)
    assert settlement(platform, settlement_id).state == SettlementState.BURNED

    official = people["official"]
    first = post_paid(official, settlement_id, "BNK-20261120-77", "http-paid-0001")
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "paid"
    again = post_paid(official, settlement_id, "BNK-20261120-77", "http-paid-0001")
    assert again.json() == first.json()
    changed = post_paid(official, settlement_id, "BNK-OTHER", "http-paid-0002")
    assert changed.status_code == 409
    assert changed.json()["error"]["message"]
    korean = official.client.post(
        f"/api/merchants/settlements/{settlement_id}/paid?lang=ko",
        json={"bank_reference": ""},
        headers={**official.headers, "Idempotency-Key": "http-paid-0003"},
    )
    assert korean.status_code == 422
    assert "참조번호" in korean.json()["error"]["message"]
    assert post_paid(official, settlement_id, "BNK-1", None).status_code == 422

    mine = people["shop"].client.get("/api/merchants/me/settlements").json()
    assert [(s["state"], s["bank_reference"]) for s in mine] == [("paid", "BNK-20261120-77")]


def test_lists_and_transfer_file(platform: PlatformContext, people: dict[str, Actor]) -> None:
    view = shop_with_account(platform, people["shop"])
    waiting = add_settlement(platform, view, 15_000, SettlementState.BURNED, 11)
    paid = add_settlement(platform, view, 5_000, SettlementState.BURNED, 12)
    add_settlement(platform, view, 1_000, SettlementState.PENDING, 13)
    PayoutService(platform).mark_paid(paid, people["official"].user_id, "BNK-P", "list-key-01")

    for who in ("official", "auditor"):
        listed = people[who].client.get("/api/merchants/settlements")
        assert listed.status_code == 200, listed.text
        rows = listed.json()
        assert [r["settlement_id"] for r in rows] == [waiting]
        assert rows[0]["merchant_code"] == view.code
        assert rows[0]["bank_account"] == {"bank_code": "032", "number": "*********5060"}
    done = people["auditor"].client.get("/api/merchants/settlements?state=paid").json()
    assert [(r["settlement_id"], r["bank_reference"]) for r in done] == [(paid, "BNK-P")]
    assert people["official"].client.get("/api/merchants/settlements?state=x").status_code == 422
    for who in ("shop", "citizen"):
        assert people[who].client.get("/api/merchants/settlements").status_code == 403
        assert people[who].client.get("/api/merchants/settlements/transfer.csv").status_code == 403

    official_csv = people["official"].client.get("/api/merchants/settlements/transfer.csv")
    assert official_csv.status_code == 200
    assert official_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in official_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(official_csv.text.lstrip("\ufeff"))))
    assert rows[0] == list(TRANSFER_COLUMNS)
    assert rows[1:] == [
        [
            str(waiting),
            DAY.isoformat(),
            view.code,
            "송정 서핑 카페",
            "032",
            "1012030405060",
            "15000",
            f"BUSANCHAIN-{waiting}",
        ]
    ]
    auditor_rows = list(
        csv.reader(
            io.StringIO(
                people["auditor"].client.get("/api/merchants/settlements/transfer.csv").text
            )
        )
    )
    assert auditor_rows[1][5] == "*********5060"  # auditors never get the account number


def test_settlements_page_for_officials_and_auditors(
    platform: PlatformContext, people: dict[str, Actor]
) -> None:
    view = shop_with_account(platform, people["shop"])
    add_settlement(platform, view, 15_000, SettlementState.BURNED, 14)
    page = people["official"].client.get("/merchants/settlements")
    assert page.status_code == 200
    assert "이체 대기" in page.text and "송정 서핑 카페" in page.text
    assert 'data-testid="mark-paid"' in page.text and "*********5060" in page.text
    assert "1012030405060" not in page.text
    read_only = people["auditor"].client.get("/merchants/settlements?lang=en")
    assert read_only.status_code == 200
    assert "Awaiting transfer" in read_only.text and "mark-paid" not in read_only.text
    assert people["shop"].client.get("/merchants/settlements").status_code == 403
    shop_page = people["shop"].client.get("/merchants/me")
    assert "이체 대기" in shop_page.text


def test_daily_report_csv_has_paid_and_awaiting_columns(
    platform: PlatformContext, people: dict[str, Actor]
) -> None:
    view = shop_with_account(platform, people["shop"])
    paid = add_settlement(platform, view, 4_000, SettlementState.BURNED, 15)
    add_settlement(platform, view, 1_500, SettlementState.BURNED, 16)
    PayoutService(platform).mark_paid(paid, people["official"].user_id, "BNK-C", "csv-key-001")
    text = people["shop"].client.get(f"/api/merchants/me/report?day={DAY}&format=csv").text
    header, row = list(csv.reader(io.StringIO(text)))
    values = dict(zip(header, row, strict=True))
    assert values["redemptions_amount"] == "5500"
    assert (values["paid_count"], values["paid_amount"]) == ("1", "4000")
    assert values["awaiting_transfer_amount"] == "1500"
