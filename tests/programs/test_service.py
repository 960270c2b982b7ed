"""Program creation on chain, validation of every rule, editing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from busanchain.domain.errors import Conflict, ValidationFailed
from busanchain.platform.context import PlatformContext
from busanchain.programs.service import ProgramService
from busanchain.vouchers.contracts import VoucherChain
from tests.programs.conftest import program_fields


def test_create_publishes_program_on_chain(platform: PlatformContext) -> None:
    service = ProgramService(platform)
    view = service.create(None, program_fields(allowed_districts=["26350", "부산진구"]))
    assert view.state == "live"
    chain = VoucherChain(platform)
    rules = chain.read_one(chain.voucher, "program", [view.id])
    assert rules[0] == 10_000_000 and rules[1] == 300_000
    assert rules[2] == 100_000 and rules[3] == 200_000
    assert rules[4] == int(view.starts_at.timestamp()) and rules[5] == int(
        view.expires_at.timestamp()
    )
    assert rules[7] is True  # districts restricted
    assert chain.read_one(chain.voucher, "districtAllowed", [view.id, 26350]) is True
    assert chain.read_one(chain.voucher, "districtAllowed", [view.id, 26110]) is False
    assert chain.read_one(chain.voucher, "categoryAllowed", [view.id, 5813]) is False
    assert chain.read_one(chain.voucher, "categoryAllowed", [view.id, 5411]) is True
    assert service.program_view(view.id).ledger == {
        "locked": 10_000_000,
        "unspent": 0,
        "unclaimed": 0,
        "unallocated": 10_000_000,
        "paid_out": 0,
        "refunded": 0,
        "withdrawn": 0,
    }
    assert (view.min_age, view.max_age) == (19, 34)
    second = service.create(None, program_fields(kind="family"))
    assert second.id == view.id + 1 and (second.min_age, second.max_age) == (None, None)


def test_finish_is_idempotent(platform: PlatformContext) -> None:
    service = ProgramService(platform)
    view = service.create(None, program_fields())
    assert service.finish(view.id).state == "live"
    assert service.finish_all() == 0


def _past() -> str:
    return (datetime.now(UTC) - timedelta(days=2)).isoformat()


BAD_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("name_ko", {"name_ko": ""}),
    ("name_en", {"name_en": None}),
    ("kind", {"kind": "elderly"}),
    ("budget", {"budget": 0}),
    ("budget", {"budget": -5}),
    ("per_person_amount", {"per_person_amount": 0}),
    ("per_person_amount", {"per_person_amount": 20_000_000}),
    ("per_payment_cap", {"per_payment_cap": -1}),
    ("daily_cap", {"daily_cap": "lots"}),
    ("starts_at", {"starts_at": "tomorrow"}),
    ("expires_at", {"expires_at": _past()}),
    ("expires_at", {"starts_at": "2030-01-02", "expires_at": "2030-01-01"}),
    ("allowed_categories", {"allowed_categories": [1234]}),
    ("blocked_categories", {"blocked_categories": ["x"]}),
    ("blocked_categories", {"allowed_categories": [5411], "blocked_categories": [5411]}),
    ("allowed_districts", {"allowed_districts": [11110]}),
    ("min_age", {"min_age": 40, "max_age": 30}),
    ("max_age", {"max_age": 500}),
]


@pytest.mark.parametrize(("field", "change"), BAD_FIELDS)
def test_each_bad_field_is_refused(
    platform: PlatformContext, field: str, change: dict[str, Any]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ProgramService(platform).create(None, program_fields(**change))
    assert caught.value.details["field"] == field
    assert caught.value.message_ko != caught.value.message_en
    assert ProgramService(platform).list() == []


def test_edit_off_chain_fields_but_not_rules(platform: PlatformContext) -> None:
    service = ProgramService(platform)
    view = service.create(None, program_fields())
    edited = service.edit(view.id, {"name_en": "Youth allowance 2026", "max_age": 39})
    assert edited.name_en == "Youth allowance 2026" and edited.max_age == 39
    with pytest.raises(Conflict):
        service.edit(view.id, {"budget": 5})
    assert service.get(view.id).budget == 10_000_000


def test_draft_is_edited_freely_then_published(platform: PlatformContext) -> None:
    service = ProgramService(platform)
    draft = service.create(None, program_fields(), publish=False)
    assert draft.state == "draft"
    assert service.edit(draft.id, {"budget": 5_000_000}).budget == 5_000_000
    live = service.publish(draft.id)
    assert live.state == "live"
    chain = VoucherChain(platform)
    assert chain.read_one(chain.voucher, "program", [draft.id])[0] == 5_000_000
