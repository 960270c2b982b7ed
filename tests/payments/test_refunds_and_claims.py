"""Refunds by the merchant paid, and Merkle grants claimed on first use."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from busanchain.programs.tables import GrantRecord, RoundRecord
from busanchain.vouchers.merkle import grants_tree
from tests.payments.conftest import World, execute, pay


def _refund(who: object, payment_id: int, amount: int, key: str | None = None) -> object:
    return who.client.post(  # type: ignore[attr-defined]
        f"/api/payments/{payment_id}/refunds",
        json={"amount": amount},
        headers=who.headers | {"Idempotency-Key": key or f"refund-{secrets.token_hex(6)}"},  # type: ignore[attr-defined]
    )


def test_refund_restores_the_citizens_vouchers(world: World) -> None:
    pid = world.program()
    citizen = world.citizen("citizen1")
    merchant, code = world.merchant("shop1")
    stranger, _other_code = world.merchant("shop2")
    world.grant(pid, citizen.address, 20_000)
    payment_id = pay(citizen, pid, code, 8_000).json()["payment"]["id"]
    assert world.relay() == 1
    assert world.chain.voucher_balance(citizen.address, pid) == 12_000

    assert _refund(stranger, payment_id, 1_000).status_code == 403  # type: ignore[attr-defined]
    assert _refund(citizen, payment_id, 1_000).status_code == 403  # type: ignore[attr-defined]
    answer = _refund(merchant, payment_id, 5_000, key="refund-key-1")
    assert answer.status_code == 200, answer.text  # type: ignore[attr-defined]
    assert answer.json()["refund"]["state"] == "confirmed"  # type: ignore[attr-defined]
    again = _refund(merchant, payment_id, 5_000, key="refund-key-1")
    assert again.json()["refund"]["id"] == answer.json()["refund"]["id"]  # type: ignore[attr-defined]
    assert world.chain.voucher_balance(citizen.address, pid) == 17_000
    assert world.chain.token_balance(merchant.address) == 3_000

    over = _refund(merchant, payment_id, 3_001)
    assert over.status_code == 422  # type: ignore[attr-defined]
    assert over.json()["error"]["details"]["refundable"] == 3_000  # type: ignore[attr-defined]
    receipt = citizen.client.get(f"/api/payments/{payment_id}").json()
    assert receipt["refunded"] == 5_000
    assert [r["amount"] for r in receipt["refunds"]] == [5_000]
    locked, unspent, _unclaimed, _free = world.chain.conservation(pid)
    assert unspent == 17_000 and locked == 10_000_000 - 3_000


def test_a_merkle_grant_is_claimed_on_first_use(world: World) -> None:
    pid = world.program()
    citizen = world.citizen("citizen1")
    merchant, code = world.merchant("shop1")
    others = [("0x" + secrets.token_hex(20), 1_000 + i) for i in range(3)]
    grants = [(citizen.address, 30_000), *others]
    tree = grants_tree(grants, round_id=1)
    total = sum(a for _, a in grants)
    execute(world.chain, world.chain.voucher, "postRound", [pid, 1, tree.root, total])
    with world.context.unit_of_work() as session:
        round_row = RoundRecord(
            program_id=pid,
            round_id=1,
            mode="merkle",
            root="0x" + tree.root.hex(),
            tree=tree.to_bytes(),
            total=total,
            recipients=len(grants),
            done=len(grants),
            state="done",
        )
        session.add(round_row)
        session.flush()
        for index, (address, amount) in enumerate(grants):
            session.add(
                GrantRecord(
                    round_pk=round_row.id,
                    program_id=pid,
                    address=address,
                    amount=amount,
                    leaf_index=index,
                )
            )
    assert world.chain.voucher_balance(citizen.address, pid) == 0
    wallet = citizen.client.get("/api/payments/wallet").json()
    assert wallet["programs"][0]["claimable"] == 30_000

    answer = pay(citizen, pid, code, 25_000)
    assert answer.status_code == 202, answer.text
    assert pay(citizen, pid, code, 6_000).status_code == 422  # 30,000 - 25,000 pending
    assert world.relay() == 1
    receipt = citizen.client.get(f"/api/payments/{answer.json()['payment']['id']}").json()
    assert receipt["state"] == "confirmed", receipt
    assert world.chain.voucher_balance(citizen.address, pid) == 5_000
    assert world.chain.token_balance(merchant.address) == 25_000
    world.relay()  # settles the claim's grant row
    with world.context.unit_of_work() as session:
        states = session.scalars(
            select(GrantRecord.state).where(GrantRecord.address == citizen.address)
        ).all()
    assert states == ["claimed"]
    assert citizen.client.get("/api/payments/wallet").json()["programs"][0]["claimable"] == 0
