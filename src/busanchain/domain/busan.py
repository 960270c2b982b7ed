"""Busan's districts and the merchant categories allowances use (copied from ../shared/data).

The CSV files are packaged with the platform (the app must not depend on a folder next to the
repository at run time); tests/domain/test_busan.py checks that they equal the shared data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from busanchain.domain.errors import ValidationFailed

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class District:
    """A Busan district (gu/gun) with its administrative code."""

    code: int
    name_ko: str
    name_en: str

    def name(self, lang: str) -> str:
        """The name in the user's language."""
        return self.name_en if lang == "en" else self.name_ko


@dataclass(frozen=True)
class Category:
    """An ISO 18245 merchant category and the usual allowance rule for it."""

    mcc: int
    name_ko: str
    name_en: str
    typical_rule: str  # "allowed" or "blocked"

    def name(self, lang: str) -> str:
        """The name in the user's language."""
        return self.name_en if lang == "en" else self.name_ko


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def districts() -> dict[int, District]:
    """Every Busan district by code, in file order."""
    return {
        int(r["code"]): District(int(r["code"]), r["name_ko"], r["name_en"])
        for r in _rows("busan_districts.csv")
    }


@cache
def categories() -> dict[int, Category]:
    """Every known merchant category by MCC, in file order."""
    return {
        int(r["mcc"]): Category(
            int(r["mcc"]), r["name_ko"], r["name_en"], r["typical_allowance_rule"]
        )
        for r in _rows("merchant_categories.csv")
    }


def parse_district(value: object) -> int:
    """A district code that exists in Busan, or ValidationFailed (ko/en)."""
    try:
        code = int(str(value).strip())
    except ValueError:
        code = -1
    if code not in districts():
        raise ValidationFailed(
            f"Unknown Busan district code: {value!r}.",
            f"부산의 구·군 코드가 아닙니다: {value!r}.",
        )
    return code


def parse_category(value: object) -> int:
    """A known merchant category code (MCC), or ValidationFailed (ko/en)."""
    try:
        mcc = int(str(value).strip())
    except ValueError:
        mcc = -1
    if mcc not in categories():
        raise ValidationFailed(
            f"Unknown merchant category code (MCC): {value!r}.",
            f"알 수 없는 업종 코드(MCC)입니다: {value!r}.",
        )
    return mcc
