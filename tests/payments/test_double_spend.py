"""100 concurrent payments against one balance never spend more than the balance."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from busanchain.payments.relayer import PAID_TOPIC, run_relayer
from busanchain.payments.tables import PaymentRecord
from busanchain.web.app import create_app
from tests.accounts.conftest import PASSWORD
from tests.payments.conftest import World
from tests.web.support import serve

BALANCE = 50_000
ATTEMPTS = 100


def _paid_events(world: World, payer: str) -> list[int]:
    topic_payer = "0x" + payer[2:].lower().rjust(64, "0")
    logs = world.chain.outbox.client.request(
        "eth_getLogs",
        [
            {
                "address": world.chain.voucher.address,
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [PAID_TOPIC, None, None, topic_payer],
            }
        ],
    )
    return [int(lg["data"][66:130], 16) for lg in logs]


def test_concurrent_payments_cannot_overspend(world: World) -> None:
    pid = world.program()
    citizen = world.citizen("racer")
    _merchant, code = world.merchant("shop1")
    world.grant(pid, citizen.address, BALANCE)
    amounts = [700 + (i * 37) % 900 for i in range(ATTEMPTS)]  # sum far above the balance
    stop = threading.Event()
    relayer = threading.Thread(target=run_relayer, args=(world.context, stop), daemon=True)
    relayer.start()
    try:
        with serve(create_app(world.context)) as url:
            client = httpx.Client(base_url=url, timeout=60)
            login = client.post(
                "/api/accounts/login", json={"login": "racer", "password": PASSWORD}
            )
            csrf = {"X-CSRF-Token": login.json()["csrf_token"]}

            def one(amount: int) -> int:
                response = client.post(
                    "/api/payments?wait=0",
                    json={"program_id": pid, "merchant_code": code, "amount": amount},
                    headers=csrf | {"Idempotency-Key": f"race-{secrets.token_hex(8)}"},
                )
                assert response.status_code in (202, 200, 422, 409), response.text
                return response.status_code

            with ThreadPoolExecutor(max_workers=32) as pool:
                codes = list(pool.map(one, amounts))
            client.close()
        accepted = sum(1 for c in codes if c in (200, 202))
        assert accepted > 0 and 422 in codes

        def settled() -> bool:
            with world.context.unit_of_work() as session:
                states = session.scalars(select(PaymentRecord.state)).all()
            return all(s in ("confirmed", "failed") for s in states)

        deadline = threading.Event()
        for _ in range(600):
            if settled():
                break
            deadline.wait(0.1)
        assert settled()
    finally:
        stop.set()
        relayer.join(timeout=30)
    with world.context.unit_of_work() as session:
        rows = session.scalars(select(PaymentRecord)).all()
        confirmed = sum(r.amount for r in rows if r.state == "confirmed")
        assert len(rows) == accepted
    paid = _paid_events(world, citizen.address)
    balance = world.chain.voucher_balance(citizen.address, pid)
    assert confirmed <= BALANCE
    assert sum(paid) == confirmed == BALANCE - balance
    assert balance >= 0
    assert len(paid) == sum(1 for r in rows if r.state == "confirmed")
