"""Paying through the API on a real anvil: accept, relay in a batch, confirm, receipt."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from busanchain.payments.tables import PaymentRecord
from busanchain.vouchers.reasons import Reason, reason_text
from tests.payments.conftest import BAR, JUNG, World, execute, pay


def test_a_citizen_pays_a_merchant(world: World) -> None:
    pid = world.program()
    citizen = world.citizen("citizen1")
    merchant, code = world.merchant("shop1")
    world.grant(pid, citizen.address, 50_000)

    answer = pay(citizen, pid, code, 12_000)
    assert answer.status_code == 202, answer.text
    payment = answer.json()["payment"]
    assert payment["state"] == "pending"

    assert world.relay() == 1
    receipt = citizen.client.get(f"/api/payments/{payment['id']}").json()
    assert receipt["state"] == "confirmed"
    assert receipt["chain_payment_id"] >= 1
    assert receipt["tx_hash"].startswith("0x")
    assert receipt["business_day"]
    assert world.chain.voucher_balance(citizen.address, pid) == 38_000
    assert world.chain.token_balance(merchant.address) == 12_000
    # the merchant sees it; another citizen does not
    incoming = merchant.client.get("/api/payments/merchant?since_id=0").json()
    assert [p["id"] for p in incoming["payments"]] == [payment["id"]]
    other = world.citizen("citizen2")
    assert other.client.get(f"/api/payments/{payment['id']}").status_code == 404
    wallet = citizen.client.get("/api/payments/wallet").json()
    card = wallet["programs"][0]
    assert card["balance"] == 38_000 and card["spent"] == 12_000
    assert card["days_left"] >= 29


def test_many_payments_go_in_one_batch(world: World) -> None:
    pid = world.program()
    citizens = [world.citizen(f"cit{i}") for i in range(4)]
    _merchant, code = world.merchant("shop1")
    for c in citizens:
        world.grant(pid, c.address, 10_000)
    for c in citizens:
        for _ in range(3):
            assert pay(c, pid, code, 1_000).status_code == 202
    assert world.relay() == 12
    with world.context.unit_of_work() as session:
        entries = session.scalars(select(PaymentRecord.batch_entry_id).distinct()).all()
    assert len(entries) == 1
    for c in citizens:
        assert world.chain.voucher_balance(c.address, pid) == 7_000


def _refused(answer: object, reason: Reason) -> None:
    response = answer
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["details"]["reason"] == int(reason)
    assert error["message"] in (reason_text(reason, "ko"), reason_text(reason, "en"))


def test_every_rule_is_a_clear_422(world: World) -> None:
    citizen = world.citizen("citizen1")
    _m, grocery = world.merchant("grocer")
    _b, bar = world.merchant("bar", mcc=BAR)
    _u, unregistered = world.merchant("ghost", register=False)
    blocked = world.program(blocked_categories=[BAR])
    jung_only = world.program(allowed_districts=[JUNG])
    capped = world.program(per_payment_cap=10_000, daily_cap=15_000)
    for pid in (blocked, jung_only, capped):
        world.grant(pid, citizen.address, 100_000)

    _refused(pay(citizen, blocked, bar, 1_000), Reason.CATEGORY_BLOCKED)
    answer = pay(citizen, blocked, bar, 1_000, lang="en")
    assert answer.json()["error"]["message"] == reason_text(Reason.CATEGORY_BLOCKED, "en")
    _refused(pay(citizen, jung_only, grocery, 1_000), Reason.DISTRICT_NOT_ALLOWED)
    _refused(pay(citizen, capped, grocery, 10_001), Reason.OVER_PAYMENT_CAP)
    assert pay(citizen, capped, grocery, 10_000).status_code == 202
    _refused(pay(citizen, capped, grocery, 6_000), Reason.OVER_DAILY_CAP)  # counts pending
    assert world.relay() == 1
    _refused(pay(citizen, capped, grocery, 6_000), Reason.OVER_DAILY_CAP)  # the contract's
    _refused(pay(citizen, blocked, unregistered, 1_000), Reason.MERCHANT_NOT_REGISTERED)
    _refused(pay(citizen, blocked, grocery, 100_001), Reason.INSUFFICIENT_BALANCE)
    _refused(pay(citizen, blocked, grocery, 0), Reason.ZERO_AMOUNT)

    voucher = world.chain.voucher
    execute(world.chain, voucher, "setProgramPaused", [blocked, True])
    _refused(pay(citizen, blocked, grocery, 1_000), Reason.PROGRAM_PAUSED)
    execute(world.chain, voucher, "setProgramPaused", [blocked, False])
    execute(world.chain, voucher, "pause", [])
    _refused(pay(citizen, blocked, grocery, 1_000), Reason.CONTRACT_PAUSED)
    execute(world.chain, voucher, "unpause", [])
    execute(world.chain, voucher, "setBlacklisted", [citizen.address, True])
    _refused(pay(citizen, blocked, grocery, 1_000), Reason.PAYER_BLACKLISTED)
    execute(world.chain, voucher, "setBlacklisted", [citizen.address, False])
    assert pay(citizen, blocked, grocery, 1_000).status_code == 202
    assert world.relay() == 1
    with world.context.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(PaymentRecord)) == 2


def test_unknown_merchant_code_is_404_and_citizens_only(world: World) -> None:
    pid = world.program()
    citizen = world.citizen("citizen1")
    merchant, code = world.merchant("shop1")
    assert pay(citizen, pid, "BS-NOPE00", 1_000).status_code == 404
    assert pay(merchant, pid, code, 1_000).status_code == 403
    missing_key = citizen.client.post(
        "/api/payments",
        json={"program_id": pid, "merchant_code": code, "amount": 1},
        headers=citizen.headers,
    )
    assert missing_key.status_code == 422


def test_idempotency_key(world: World) -> None:
    pid = world.program()
    citizen = world.citizen("citizen1")
    _m, code = world.merchant("shop1")
    world.grant(pid, citizen.address, 10_000)
    first = pay(citizen, pid, code, 3_000, key="same-key-0001")
    again = pay(citizen, pid, code, 3_000, key="same-key-0001")
    assert first.status_code == again.status_code == 202
    assert first.json()["payment"]["id"] == again.json()["payment"]["id"]
    other = pay(citizen, pid, code, 4_000, key="same-key-0001")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert world.relay() == 1
    assert world.chain.voucher_balance(citizen.address, pid) == 7_000
    replay = pay(citizen, pid, code, 3_000, key="same-key-0001")
    assert replay.json()["payment"]["id"] == first.json()["payment"]["id"]


@pytest.mark.parametrize("corrupt", ["signature", "payer"])
def test_a_bad_signature_fails_only_that_payment(world: World, corrupt: str) -> None:
    pid = world.program()
    citizens = [world.citizen(f"cit{i}") for i in range(3)]
    _m, code = world.merchant("shop1")
    for c in citizens:
        world.grant(pid, c.address, 10_000)
    ids = [pay(c, pid, code, 2_000).json()["payment"]["id"] for c in citizens]
    with world.context.unit_of_work() as session:
        bad = session.get(PaymentRecord, ids[1])
        assert bad is not None
        if corrupt == "signature":
            raw = bytearray.fromhex(bad.signature[2:])
            raw[10] ^= 0xFF
            bad.signature = "0x" + raw.hex()
        else:
            bad.amount += 1  # the signature no longer covers what is sent
    assert world.relay() == 3
    states = [citizens[0].client.get(f"/api/payments/{i}") for i in ids[:1]]
    assert states[0].json()["state"] == "confirmed"
    failed = citizens[1].client.get(f"/api/payments/{ids[1]}").json()
    assert failed["state"] == "failed"
    assert failed["reason"] == int(Reason.BAD_SIGNATURE)
    assert failed["reason_text"] == reason_text(Reason.BAD_SIGNATURE, "ko")
    assert citizens[2].client.get(f"/api/payments/{ids[2]}").json()["state"] == "confirmed"
    assert world.chain.voucher_balance(citizens[1].address, pid) == 10_000
    assert world.chain.voucher_balance(citizens[2].address, pid) == 8_000
