"""No personal data on chain: after importing residents and disbursing in both modes (and a
claim and a revocation), every transaction's input and every log's topics and data, from
block 0 to the head of a private node, are scanned for the residents' names (UTF-8), phone
numbers and resident registration numbers (as ASCII and as hex digits): 0 hits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from busanchain.chain.client import ChainClient
from busanchain.deployment.service import DeploymentService
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs.disburse import Disburser, claim_ticket
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.service import ProgramService
from busanchain.programs.tables import GrantRecord
from busanchain.vouchers.contracts import VoucherChain
from tests.conftest import module_context, start_anvil
from tests.programs.conftest import csv_bytes, program_fields, resident_rows


@pytest.fixture
def private(tmp_path: Path, anvil_binary: Path) -> Iterator[PlatformContext]:
    node = start_anvil(tmp_path / "chain", anvil_binary)
    try:
        with module_context(tmp_path, node.config.rpc_url) as context:
            DeploymentService(context, OutboxService(context)).deploy_all(
                operator_signer(context.settings)
            )
            yield context
    finally:
        node.stop(snapshot=False)


def _needles(rows: list[dict[str, str]]) -> tuple[list[bytes], list[str]]:
    raw: list[bytes] = []
    digits: list[str] = []
    for row in rows:
        raw.append(row["name"].encode("utf-8"))
        for value in (row["phone"], row["resident_id"]):
            plain = value.replace("-", "")
            raw += [value.encode(), plain.encode()]
            digits += [plain, plain.encode().hex()]
    return raw, digits


def _chain_blobs(client: ChainClient) -> Iterator[bytes]:
    head = client.block_number()
    for number in range(head + 1):
        block = client.request("eth_getBlockByNumber", [hex(number), True])
        for tx in block["transactions"]:
            yield bytes.fromhex(tx["input"][2:])
            receipt = client.receipt(tx["hash"])
            assert receipt is not None
            for log in receipt["logs"]:
                yield bytes.fromhex(log["data"][2:])
                for topic in log["topics"]:
                    yield bytes.fromhex(topic[2:])


def test_no_names_phones_or_resident_numbers_on_chain(private: PlatformContext) -> None:
    names = ["홍길동", "김철수", "이영희", "박민준", "Zoë Quartermain", "최수아"]
    rows = resident_rows(len(names), seed=42, wallets=False)
    for i, row in enumerate(rows):
        row["name"] = names[i]
        row["phone"] = f"010-{7300 + i}-{9100 + i}"
        row["wallet"] = ""
    merkle = ProgramService(private).create(None, program_fields())
    direct = ProgramService(private).create(None, program_fields(name_en="Second"))
    importer = ResidentImporter(private)
    importer.import_file(merkle.id, "a.csv", csv_bytes(rows[:3]))
    importer.import_file(direct.id, "b.csv", csv_bytes(rows))
    disburser = Disburser(private)
    disburser.run_round(merkle.id, None, "merkle")
    disburser.run_round(direct.id, None, "direct")
    chain = VoucherChain(private)
    with private.unit_of_work() as session:
        merkle_grants = list(
            session.scalars(select(GrantRecord).where(GrantRecord.program_id == merkle.id))
        )
        session.expunge_all()
    first = merkle_grants[0]
    with private.unit_of_work() as session:
        ticket = claim_ticket(session, merkle.id, first.address)[0]
    OutboxService(private).execute(
        signer=operator_signer(private.settings),
        intent="test.claim",
        to=chain.voucher.address,
        data=chain.calldata(
            chain.voucher,
            "claim",
            [merkle.id, ticket.round_id, first.address, ticket.amount, ticket.proof],
        ),
    )
    disburser.revoke_grant(merkle_grants[1].id)
    raw, digits = _needles(rows)
    client = ChainClient(private.settings.node_rpc_url)
    scanned = 0
    hits = []
    for blob in _chain_blobs(client):
        scanned += 1
        text = blob.hex()
        hits += [n for n in raw if n in blob]
        hits += [d for d in digits if d in text]
    assert scanned > 20
    assert hits == []
    # The scan finds what is there: the claimed recipient's address is in the calldata.
    assert any(bytes.fromhex(first.address[2:]) in b for b in _chain_blobs(client))
