"""Payments signed by a self-custody wallet: POST /api/payments/signed, and one payer's
payments checked against each other across worker processes."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from sqlalchemy import func, select

from busanchain.chain.signing import Signer
from busanchain.payments.service import PaymentService, order_reference
from busanchain.payments.tables import PaymentRecord, PaymentState
from busanchain.vouchers.eip712 import PaymentMessage, sign_payment
from busanchain.vouchers.reasons import Reason
from tests.crash.helpers import platform_env
from tests.payments.conftest import World
from tests.token.conftest import Actor

DEADLINE_S = 600


def _signed(
    world: World, wallet: Signer, pid: int, shop: Actor, code: str, amount: int, nonce: int
) -> dict[str, Any]:
    """A payment body signed by `wallet`, as a wallet app sends it."""
    service = PaymentService(world.context)
    deadline = service.chain.chain_time() + DEADLINE_S
    message = PaymentMessage(
        payer=wallet.address,
        program_id=pid,
        merchant=shop.address,
        amount=amount,
        order_ref=order_reference(wallet.address, nonce, None),
        nonce=nonce,
        deadline=deadline,
    )
    signature = sign_payment(wallet, message, service.separator)
    return {
        "program_id": pid,
        "merchant_code": code,
        "amount": amount,
        "payer": wallet.address,
        "nonce": nonce,
        "deadline": deadline,
        "signature": "0x" + signature.hex(),
    }


def _post(who: Actor, body: dict[str, Any], lang: str = "ko") -> Any:
    return who.client.post(
        f"/api/payments/signed?wait=0&lang={lang}",
        json=body,
        headers=who.headers | {"Idempotency-Key": f"signed-{secrets.token_hex(8)}"},
    )


def _states(world: World, payer: str) -> list[str]:
    with world.context.unit_of_work() as session:
        return list(
            session.scalars(
                select(PaymentRecord.state)
                .where(PaymentRecord.payer == payer)
                .order_by(PaymentRecord.id)
            )
        )


def test_a_signed_payment_is_checked_relayed_and_settled(world: World) -> None:
    pid = world.program()
    relayer_user = world.citizen("walletapp")
    shop, code = world.merchant("shop1")
    wallet = Signer(Account.create())
    world.grant(pid, wallet.address, 5_000)

    paid = _post(relayer_user, _signed(world, wallet, pid, shop, code, 3_000, 7))
    assert paid.status_code == 202, paid.text
    assert paid.json()["payment"]["amount"] == 3_000
    world.relay()
    assert _states(world, wallet.address) == [PaymentState.CONFIRMED]

    again = _post(relayer_user, _signed(world, wallet, pid, shop, code, 1_000, 7))
    assert again.status_code == 422
    assert again.json()["error"]["details"]["reason_name"] == Reason.NONCE_USED.name

    over = _post(relayer_user, _signed(world, wallet, pid, shop, code, 2_001, 8), lang="en")
    assert over.status_code == 422
    assert over.json()["error"]["details"]["reason_name"] == Reason.INSUFFICIENT_BALANCE.name

    forged = _signed(world, wallet, pid, shop, code, 1_000, 9)
    forged["amount"] = 2_000  # the wallet signed 1,000
    refused = _post(relayer_user, forged)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["reason_name"] == Reason.BAD_SIGNATURE.name
    assert _states(world, wallet.address) == [PaymentState.CONFIRMED]  # nothing else written


# Each worker process pays from the same wallet with its own nonces, 4 threads at a time.
WORKER = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from busanchain.config import Settings
from busanchain.domain.errors import BusanchainError
from busanchain.payments.service import PaymentService, SignedPayRequest
from busanchain.platform.context import PlatformContext

job = json.loads(open(sys.argv[1]).read())
service = PaymentService(PlatformContext.create(Settings.from_env()))
service.chain_time()  # connect before the start line

def one(i, body):
    request, key = SignedPayRequest(**body), f"{job['tag']}-key-{i:04d}"
    for _ in range(50):  # 409: another payment of this wallet came first; retry as a client
        try:
            return [service.pay_signed(job["user_id"], request, key, 0)[0], ""]
        except BusanchainError as exc:
            if exc.status != 409:
                return [exc.status, exc.message("en")]
    return [409, "still busy"]

time.sleep(max(0.0, job["start"] - time.time()))
with ThreadPoolExecutor(4) as pool:
    print(json.dumps(list(pool.map(one, range(len(job["bodies"])), job["bodies"]))))
"""


def test_worker_processes_cannot_accept_more_than_the_balance(world: World, tmp_path: Path) -> None:
    """Two worker processes accept payments from one wallet at the same time. Each process
    serialises its own requests for a payer, but not the other's: without the payer's cursor
    taken in the write, both checked against the same open payments and together accepted
    more than the balance (the contract would then refuse some after their 202)."""
    pid = world.program()
    relayer_user = world.citizen("walletapp")
    shop, code = world.merchant("shop1")
    wallet = Signer(Account.create())
    balance, amount, per_worker = 10_000, 1_000, 12  # 24,000 asked of 10,000
    world.grant(pid, wallet.address, balance)
    env = platform_env(world.context.settings)
    start = time.time() + 8
    workers = []
    for w in range(2):
        nonces = range(w * per_worker, (w + 1) * per_worker)
        job = {
            "user_id": relayer_user.user_id,
            "tag": f"w{w}",
            "start": start,
            "bodies": [_signed(world, wallet, pid, shop, code, amount, n) for n in nonces],
        }
        path = tmp_path / f"job{w}.json"
        path.write_text(json.dumps(job))
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    answers: list[tuple[int, str]] = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        answers += [tuple(a) for a in json.loads(out.strip().splitlines()[-1])]
    codes = [status for status, _ in answers]
    refusals = {text for status, text in answers if status != 202}
    assert set(codes) <= {202, 422} and len(refusals) <= 1, answers
    with world.context.unit_of_work() as session:
        accepted = session.scalar(
            select(func.coalesce(func.sum(PaymentRecord.amount), 0)).where(
                PaymentRecord.payer == wallet.address
            )
        )
    assert codes.count(202) * amount == accepted
    assert accepted == balance, f"accepted {accepted} of a {balance} balance: {answers}"
    world.relay()
    assert set(_states(world, wallet.address)) == {PaymentState.CONFIRMED}
