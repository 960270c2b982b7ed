"""Expiry clawback and the conservation proof, on a node of this module's own (time warps)."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select
from web3 import Web3

from busanchain.domain.roles import Role
from busanchain.outbox.service import OutboxService
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from busanchain.reports.clawback import (
    INTENT,
    ClawbackService,
    clawback_report,
    withdraw_expired,
)
from busanchain.reports.conservation import ConservationProver
from busanchain.reports.service import ReportService
from busanchain.reports.tables import ClawbackRecord
from tests.reports.conftest import create_chain_program, deploy, warp
from tests.token.conftest import actor

CLAWBACK = "/api/reports/programs/{}/clawback"


def _clawback_txs(context: PlatformContext) -> int:
    with context.unit_of_work() as session:
        query = select(func.count()).select_from(OutboxEntry).where(OutboxEntry.intent == INTENT)
        return int(session.scalar(query) or 0)


def test_official_withdraws_expired_backing_once(warp_context: PlatformContext) -> None:
    chain = deploy(warp_context)
    program = create_chain_program(warp_context, 7, budget=1_000_000, holders=3, unclaimed=2)
    official = actor(warp_context, "official1", Role.OFFICIAL)
    treasury = Web3.to_checksum_address(chain.read_one(chain.voucher, "treasury", []))
    url = CLAWBACK.format(7)

    early = official.client.post(url, headers={**official.headers, "Idempotency-Key": "early-001"})
    assert early.status_code == 409, early.text
    assert "만료" in early.json()["error"]["message"]
    missing = official.client.post(url, headers=official.headers)
    assert missing.status_code == 422  # no Idempotency-Key
    assert _clawback_txs(warp_context) == 0
    assert chain.voucher_balance(program.holders[0], 7) == 100_000

    warp(warp_context, 3_700)
    assert [chain.voucher_balance(h, 7) for h in program.holders] == [0, 0, 0]
    before = chain.token_balance(treasury)
    headers = {**official.headers, "Idempotency-Key": "clawback-7-first"}
    done = official.client.post(url, headers=headers)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["state"] == "confirmed" and answer["amount"] == 1_000_000
    assert answer["already_withdrawn"] is False and answer["tx_hash"].startswith("0x")
    assert chain.token_balance(treasury) == before + 1_000_000
    assert chain.conservation(7) == (0, 0, 0, 0)

    again = official.client.post(url, headers=headers)  # same key: the stored answer
    assert again.status_code == 200 and again.json() == answer
    other = official.client.post(url, headers={**official.headers, "Idempotency-Key": "k-second"})
    assert other.status_code == 200 and other.json()["already_withdrawn"] is True
    assert other.json()["tx_hash"] == answer["tx_hash"]
    assert chain.token_balance(treasury) == before + 1_000_000
    assert _clawback_txs(warp_context) == 1

    (row,) = clawback_report(warp_context)
    assert (row.program_id, row.status, row.withdrawn) == (7, "withdrawn", 1_000_000)
    assert (row.locked, row.unspent, row.unclaimed) == (1_000_000, 300_000, 200_000)
    assert (row.tx_hash, row.block_number) == (answer["tx_hash"], answer["block_number"])
    exported = official.client.get("/api/reports/exports/clawback?format=csv")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[1][0] == "7" and table[1][4:8] == ["1000000", "300000", "200000", "1000000"]
    assert table[1][8] == answer["tx_hash"]
    page = official.client.get("/reports/clawback?lang=ko")
    assert page.status_code == 200 and "회수 완료" in page.text


def test_someone_elses_withdrawal_is_only_recorded(warp_context: PlatformContext) -> None:
    chain = deploy(warp_context)
    create_chain_program(warp_context, 8, budget=500_000, holders=1, unclaimed=1)
    warp(warp_context, 3_700)
    client = OutboxService(warp_context).client
    stranger = client.request("eth_accounts", [])[3]
    data = "0x" + chain.calldata(chain.voucher, "withdrawExpired", [8]).hex()
    tx_hash = client.request(
        "eth_sendTransaction", [{"from": stranger, "to": chain.voucher.address, "data": data}]
    )
    result = withdraw_expired(warp_context, 8, official_user_id=None)
    assert result.already_withdrawn and result.state == "confirmed"
    assert (result.amount, result.tx_hash) == (500_000, str(tx_hash).lower())
    assert _clawback_txs(warp_context) == 0
    with warp_context.unit_of_work() as session:
        (record,) = session.scalars(select(ClawbackRecord)).all()
        assert (record.program_id, record.amount) == (8, 500_000)


def test_form_withdrawal_for_officials(warp_context: PlatformContext) -> None:
    deploy(warp_context)
    create_chain_program(warp_context, 9, budget=300_000, holders=1, unclaimed=1)
    official = actor(warp_context, "official2", Role.OFFICIAL)
    warp(warp_context, 3_700)
    page = official.client.get("/reports/clawback?lang=ko")
    assert "재정으로 회수" in page.text
    form = {"csrf_token": official.headers["X-CSRF-Token"], "idempotency_key": "form-key-0009"}
    sent = official.client.post("/reports/programs/9/clawback", data=form, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/reports/clawback?done=9"
    twice = official.client.post("/reports/programs/9/clawback", data=form, follow_redirects=False)
    assert twice.status_code == 303
    assert _clawback_txs(warp_context) == 1
    (row,) = clawback_report(warp_context)
    assert row.status == "withdrawn" and row.withdrawn == 300_000


def test_conservation_proof_matches_the_chain(warp_context: PlatformContext) -> None:
    chain = deploy(warp_context)
    create_chain_program(warp_context, 11, budget=900_000, holders=2, unclaimed=3)
    auditor = actor(warp_context, "auditor1", Role.AUDITOR)
    got = auditor.client.get("/api/reports/programs/11/conservation")
    assert got.status_code == 200, got.text
    proof = got.json()
    assert proof["identity"] == {
        "locked": 900_000,
        "unspent": 200_000,
        "unclaimed": 300_000,
        "unallocated": 400_000,
        "holds": True,
    }
    assert tuple(
        proof["identity"][k] for k in ("locked", "unspent", "unclaimed", "unallocated")
    ) == (chain.conservation(11))
    voucher = chain.addresses["PolicyVoucher"]
    assert proof["contracts"]["PolicyVoucher"] == voucher
    assert proof["total_locked"] == proof["token_balance"] == chain.token_balance(voucher)
    assert proof["total_matches"] is True
    client = OutboxService(warp_context).client
    block = client.request("eth_getBlockByNumber", [hex(proof["block"]["number"]), False])
    assert block["hash"] == proof["block"]["hash"]
    for call in proof["verify"]:  # an auditor repeats every call at the same block
        params, tag = call["params"]
        assert tag == hex(proof["block"]["number"])
        assert "0x" + client.call(params, tag).hex() == call["result"]
        assert "eth_call" in call["curl"] and params["data"] in call["curl"]
    assert ConservationProver(warp_context).prove(11)["ledger"]["locked"] == 900_000
    assert auditor.client.get("/api/reports/programs/12/conservation").status_code == 404
    page = auditor.client.get("/reports/programs/11?lang=ko")
    assert page.status_code == 200 and "직접 검증하기" in page.text and voucher in page.text


def test_concurrent_requests_send_one_withdrawal(warp_context: PlatformContext) -> None:
    deploy(warp_context)
    create_chain_program(warp_context, 13, budget=400_000, holders=1, unclaimed=1)
    board = ReportService(warp_context).dashboard(13)
    (summary,) = board.programs
    assert summary.chain is not None
    assert (summary.unspent, summary.unclaimed, summary.unallocated) == (100_000, 100_000, 200_000)
    assert [f.program_id for f in board.forecast] == [13]  # expires within the hour
    warp(warp_context, 3_700)
    service = ClawbackService(warp_context)
    path = CLAWBACK.format(13)

    def ask(key: str) -> tuple[int, dict[str, Any]]:
        return service.submit_once(13, 1, key, f"user:1:POST:{path}", f"fp-{key}")

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(ask, ["race-key-1", "race-key-2", "race-key-3"]))
    assert _clawback_txs(warp_context) == 1
    assert {a["tx_hash"] for _status, a in answers if a["state"] == "confirmed"} != set()
    assert all(a["state"] in {"confirmed", "pending"} for _status, a in answers)
    (row,) = clawback_report(warp_context)
    assert row.withdrawn == 400_000
