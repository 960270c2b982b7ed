"""Normalising the resident number and the mobile number typed into the activation form."""

from __future__ import annotations

import pytest

from busanchain.activation.rules import normalise_mobile, parse_resident_number
from busanchain.domain.errors import ValidationFailed


@pytest.mark.parametrize(
    "typed",
    [
        "010-1234-5678",
        "01012345678",
        "010 1234 5678",
        "010.1234.5678",
        "(010) 1234-5678",
        "+82 10-1234-5678",
        "+82-10-1234-5678",
        "+82 010 1234 5678",
        "821012345678",
        "０１０－１２３４－５６７８",  # full-width, as some Korean keyboards type it
    ],
)
def test_common_mobile_formats_give_the_same_digits(typed: str) -> None:
    assert normalise_mobile(typed) == "01012345678"


@pytest.mark.parametrize(
    "typed",
    ["", "hello", "02-123-4567", "+1 415 555 0100", "010-1234", "010-1234-5678 ext 1", "0" * 41],
)
def test_other_numbers_are_refused_with_a_bilingual_message(typed: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        normalise_mobile(typed)
    assert "010-1234-5678" in raised.value.message_ko
    assert "mobile" in raised.value.message_en


@pytest.mark.parametrize("typed", ["900101-1234567", "9001011234567", " 900101 - 1234567 "])
def test_resident_number_with_or_without_the_dash(typed: str) -> None:
    assert parse_resident_number(typed) == "9001011234567"


@pytest.mark.parametrize(
    "typed",
    [
        "900101-123456",
        "900101-12345678",
        "90010a-1234567",
        "900230-1234567",  # 30 February
        "900101-0234567",  # no century digit 0
        "٩٠٠١٠١-١٢٣٤٥٦٧",  # digits, but not ASCII: the hash is over ASCII digits
        "9" * 10_000,
    ],
)
def test_bad_resident_numbers_are_refused(typed: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_resident_number(typed)
    assert "주민등록번호" in raised.value.message_ko
