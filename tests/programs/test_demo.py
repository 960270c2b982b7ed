"""Demo programs: three programs, citizen1/citizen2 get vouchers, loading twice changes nothing."""

from __future__ import annotations

from busanchain.accounts.service import account_service_for
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.programs.demo import load_demo_programs
from busanchain.programs.disburse import Disburser, claim_ticket
from busanchain.programs.service import ProgramService
from busanchain.vouchers.contracts import VoucherChain
from tests.programs.conftest import counts


def test_demo_programs(platform: PlatformContext) -> None:
    accounts = account_service_for(platform)
    ids = {
        name: accounts.create_user(name, "busan-demo-2026", [role]).id
        for name, role in (
            ("official", Role.OFFICIAL),
            ("citizen1", Role.CITIZEN),
            ("citizen2", Role.CITIZEN),
        )
    }
    lines = load_demo_programs(platform, ids)
    assert len(lines) == 3
    programs = {p.kind: p for p in ProgramService(platform).list()}
    assert set(programs) == {"youth", "family", "childcare"}
    assert all(p.state == "live" for p in programs.values())
    keys = key_service_for(platform)
    chain = VoucherChain(platform)
    for name in ("citizen1", "citizen2"):
        address = keys.custodial_address(ids[name])
        assert address is not None
        with platform.unit_of_work() as session:
            tickets = claim_ticket(session, programs["youth"].id, address)
        assert [t.amount for t in tickets] == [500_000]
        assert chain.voucher_balance(address, programs["family"].id) == 300_000
    assert Disburser(platform).rounds(programs["childcare"].id) == []
    before = counts(platform)
    assert len(load_demo_programs(platform, ids)) == 3
    assert counts(platform) == before
