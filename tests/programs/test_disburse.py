"""Disbursement rounds: Merkle root + claims, direct batches, progress, revocation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from busanchain.domain.errors import Conflict, TransactionReverted
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.programs import disburse
from busanchain.programs.disburse import Disburser, claim_ticket, grant_for_claim, mark_claimed
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.service import ProgramService, ProgramView
from busanchain.programs.tables import GrantRecord
from busanchain.vouchers.contracts import VoucherChain
from tests.programs.conftest import csv_bytes, resident_rows


def _import(context: PlatformContext, program: ProgramView, count: int, seed: int = 1) -> None:
    rows = resident_rows(count, seed=seed, wallets=True)
    ResidentImporter(context).import_file(program.id, "r.csv", csv_bytes(rows))


def _grants(context: PlatformContext) -> list[GrantRecord]:
    with context.unit_of_work() as session:
        grants = list(session.scalars(select(GrantRecord).order_by(GrantRecord.id)))
        session.expunge_all()
        return grants


def _claim(context: PlatformContext, program_id: int, address: str) -> None:
    chain = VoucherChain(context)
    with context.unit_of_work() as session:
        tickets = claim_ticket(session, program_id, address)
    assert len(tickets) == 1
    ticket = tickets[0]
    data = chain.calldata(
        chain.voucher, "claim", [program_id, ticket.round_id, address, ticket.amount, ticket.proof]
    )
    outcome = OutboxService(context).execute(
        signer=operator_signer(context.settings),
        intent="test.claim",
        to=chain.voucher.address,
        data=data,
    )
    with context.unit_of_work() as session:
        mark_claimed(session, ticket.grant_id, outcome.entry_id)


def test_merkle_round_then_claim(platform: PlatformContext, live_program: ProgramView) -> None:
    _import(platform, live_program, 7)
    seen: list[tuple[str, int, int]] = []
    view = Disburser(platform).run_round(
        live_program.id, None, "merkle", progress=lambda s, d, t: seen.append((s, d, t))
    )
    assert view.state == "done" and view.recipients == 7 and view.done == 7 and view.percent == 100
    assert seen[-1] == ("on chain", 7, 7)
    chain = VoucherChain(platform)
    rnd = chain.read_one(chain.voucher, "round", [live_program.id, view.round_id])
    assert "0x" + rnd[0].hex() == view.root and rnd[1] == 7 * 300_000
    grants = _grants(platform)
    assert len(grants) == 7
    target = grants[3].address
    _claim(platform, live_program.id, target)
    assert chain.voucher_balance(target, live_program.id) == 300_000
    with platform.unit_of_work() as session:
        assert claim_ticket(session, live_program.id, target) == []
        grant = grant_for_claim(session, live_program.id, view.round_id, target)
        assert grant is not None and grant.state == "claimed"
    locked, unspent, unclaimed, unallocated = chain.conservation(live_program.id)
    assert (unspent, unclaimed) == (300_000, 6 * 300_000)
    assert locked == unspent + unclaimed + unallocated
    with pytest.raises(Conflict):  # nobody is waiting any more
        Disburser(platform).run_round(live_program.id, None, "merkle")


def test_direct_round_grants_on_chain(platform: PlatformContext, live_program: ProgramView) -> None:
    disburse.CHUNK = 3  # several chunks with a small list
    try:
        _import(platform, live_program, 8, seed=2)
        view = Disburser(platform).run_round(live_program.id, None, "direct")
    finally:
        disburse.CHUNK = 200
    assert view.state == "done" and view.done == 8 and len(view.entry_ids) == 3
    chain = VoucherChain(platform)
    for grant in _grants(platform):
        assert chain.voucher_balance(grant.address, live_program.id) == grant.amount
    assert chain.conservation(live_program.id)[1] == 8 * 300_000


def test_late_additions_get_a_second_round(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    _import(platform, live_program, 2, seed=3)
    first = Disburser(platform).run_round(live_program.id, None, "merkle")
    _import(platform, live_program, 1, seed=4)
    second = Disburser(platform).run_round(live_program.id, None, "direct")
    assert (first.round_id, second.round_id) == (1, 2) and second.recipients == 1
    assert [r.round_id for r in Disburser(platform).rounds(live_program.id)] == [2, 1]


def test_revoke_before_claim_and_before_spend(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    _import(platform, live_program, 3, seed=5)
    Disburser(platform).run_round(live_program.id, None, "merkle")
    _import(platform, live_program, 2, seed=6)
    Disburser(platform).run_round(live_program.id, None, "direct")
    grants = _grants(platform)
    chain = VoucherChain(platform)
    disburser = Disburser(platform)
    merkle_grant, claimed_grant, direct_grant = grants[0], grants[1], grants[3]
    assert disburser.revoke_grant(merkle_grant.id)["state"] == "revoked"
    assert (
        chain.read_one(
            chain.voucher,
            "leafStatus",
            [live_program.id, 1, merkle_grant.address, merkle_grant.amount],
        )
        == 2
    )
    assert disburser.revoke_grant(direct_grant.id)["state"] == "revoked"
    assert chain.voucher_balance(direct_grant.address, live_program.id) == 0
    _claim(platform, live_program.id, claimed_grant.address)
    with pytest.raises(Conflict):  # claimed: too late to revoke
        disburser.revoke_grant(claimed_grant.id)
    with pytest.raises(Conflict):  # twice
        disburser.revoke_grant(merkle_grant.id)
    locked, unspent, unclaimed, unallocated = chain.conservation(live_program.id)
    assert unclaimed == 300_000 and unspent == 2 * 300_000
    assert locked == unspent + unclaimed + unallocated


def test_revoke_refused_on_chain_when_claimed_behind_our_back(
    platform: PlatformContext, live_program: ProgramView
) -> None:
    _import(platform, live_program, 2, seed=8)
    Disburser(platform).run_round(live_program.id, None, "merkle")
    grant = _grants(platform)[0]
    chain = VoucherChain(platform)
    with platform.unit_of_work() as session:
        ticket = claim_ticket(session, live_program.id, grant.address)[0]
    data = chain.calldata(
        chain.voucher, "claim", [live_program.id, 1, grant.address, ticket.amount, ticket.proof]
    )
    OutboxService(platform).execute(
        signer=operator_signer(platform.settings),
        intent="test.claim",
        to=chain.voucher.address,
        data=data,
    )
    with pytest.raises(TransactionReverted):
        Disburser(platform).revoke_grant(grant.id)
    assert _grants(platform)[0].state == "open"


def test_round_needs_live_program_and_budget(platform: PlatformContext) -> None:
    service = ProgramService(platform)
    draft = service.create(None, {**_fields(), "budget": 600_000}, publish=False)
    _import(platform, draft, 2, seed=12)
    with pytest.raises(Conflict):
        Disburser(platform).run_round(draft.id, None, "merkle")
    service.publish(draft.id)
    assert Disburser(platform).run_round(draft.id, None, "merkle").state == "done"


def _fields() -> dict[str, object]:
    from tests.programs.conftest import program_fields

    return program_fields()
