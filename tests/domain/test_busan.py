"""The packaged Busan data equals ../shared/data, and the parsers refuse unknown codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from busanchain.domain.busan import (
    DATA,
    categories,
    districts,
    parse_category,
    parse_district,
)
from busanchain.domain.errors import ValidationFailed

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.parametrize("name", ["busan_districts.csv", "merchant_categories.csv"])
def test_packaged_copy_equals_shared_data(name: str) -> None:
    assert (DATA / name).read_bytes() == (SHARED / name).read_bytes()


def test_districts_and_categories_load() -> None:
    assert districts()[26110].name_ko == "중구"
    assert districts()[26110].name("en") == "Jung-gu"
    assert len(districts()) == 16
    assert categories()[5411].typical_rule == "allowed"
    assert categories()[7995].typical_rule == "blocked"


@pytest.mark.parametrize("bad", ["", "abc", "11110", 99999, None, "26110.5"])
def test_unknown_district_is_refused(bad: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_district(bad)
    assert "구·군" in caught.value.message_ko


def test_parsers_accept_known_codes() -> None:
    assert parse_district(" 26110 ") == 26110
    assert parse_category("5812") == 5812
    with pytest.raises(ValidationFailed):
        parse_category("1234")
