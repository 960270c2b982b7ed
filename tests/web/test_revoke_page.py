"""An official revokes a grant from the program page on a phone, in headless Chromium.

The grants section lists the program's grants with their state; the 회수 (revoke) button
leads to a confirmation page whose form carries its own Idempotency-Key; after submitting,
the program page follows the revocation by polling until it reads 회수됨 (revoked). The chain
must agree: the citizen's vouchers are gone and the amount is unallocated again.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext

from busanchain.platform.context import PlatformContext
from busanchain.programs.disburse import Disburser
from busanchain.programs.importer import ResidentImporter
from busanchain.programs.repository import grant
from busanchain.programs.service import ProgramService
from busanchain.vouchers.contracts import VoucherChain
from tests.accounts.conftest import code_at
from tests.programs.conftest import csv_bytes, program_fields, resident_rows
from tests.web.support import PHONE, Viewport
from tests.web.test_allowance_flow import (
    Site,
    checked,
    log_in,
    official_with_totp,
    open_page,
    site,  # noqa: F401 (fixture)
    wait_text,
)

pytestmark = pytest.mark.browser

PER_PERSON = 300_000


def test_official_revokes_a_grant_on_a_phone(
    site: Site,  # noqa: F811 (fixture)
    open_context: Callable[[Viewport], BrowserContext],
) -> None:
    context, base = site.context, site.url
    program = ProgramService(context).create(None, program_fields(per_person_amount=PER_PERSON))
    rows = resident_rows(3, seed=71, wallets=True)
    rows[0]["name"] = "정다은"
    ResidentImporter(context).import_file(program.id, "r.csv", csv_bytes(rows))
    assert Disburser(context).run_round(program.id, None, "direct").state == "done"
    chain = VoucherChain(context)
    unallocated_before = _unallocated(chain, program.id)

    secret = official_with_totp(context, "revoking_official")
    official = open_context(PHONE)
    log_in(official, base, "revoking_official", code_at(secret, 1))
    shown = open_page(official, f"{base}/programs/{program.id}?gq=정*은")
    page = shown.page
    row = page.locator("[data-testid=grants] tbody tr")
    assert row.count() == 1 and "정*은" in row.inner_text() and "지급됨" in row.inner_text()
    grant_id = int(row.get_attribute("data-grant-id") or "0")
    address = _address_of(context, grant_id)
    assert chain.voucher_balance(address, program.id) == PER_PERSON

    with page.expect_navigation():
        row.locator("[data-action=revoke]").click()
    checked(shown)  # the confirmation step
    assert "300,000" in page.inner_text("[data-testid=revoke-amount]")
    with page.expect_navigation():
        page.click("[data-testid=revoke-submit]")
    checked(shown)
    assert f"grant={grant_id}" in page.url
    wait_text(page, "[data-testid=revoke-state]", "회수됨")
    assert page.get_attribute("#revoke-status", "data-state") == "revoked"
    shown.assert_no_console_errors()

    assert chain.voucher_balance(address, program.id) == 0
    assert _unallocated(chain, program.id) == unallocated_before + PER_PERSON
    again = open_page(official, f"{base}/programs/{program.id}?gstate=revoked")
    listed = again.page.locator("[data-testid=grants] tbody tr")
    assert listed.count() == 1 and listed.get_attribute("data-grant-id") == str(grant_id)
    assert listed.locator("[data-action=revoke]").count() == 0


def _unallocated(chain: VoucherChain, program_id: int) -> int:
    locked, unspent, unclaimed, unallocated = (int(v) for v in chain.conservation(program_id))
    assert locked == unspent + unclaimed + unallocated
    return unallocated


def _address_of(context: PlatformContext, grant_id: int) -> str:
    with context.unit_of_work() as session:
        record = grant(session, grant_id)
        assert record is not None
        return record.address
