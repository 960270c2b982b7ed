"""The personal-data scanner finds what it must (so the session-end scan can fail)."""

from __future__ import annotations

import secrets

from tests.personal_data_scan import scan_bytes


def _abi_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(32, "big") + raw + bytes(-len(raw) % 32)


def test_names_phones_and_resident_numbers_are_found() -> None:
    data = _abi_string("김민수") + b"tel:010-1234-5678;" + b"id=9501011234567"
    kinds = sorted(hit.kind for hit in scan_bytes(data, "t"))
    assert kinds == ["name", "phone", "resident_number"]
    assert [h.text for h in scan_bytes(b"01098765432", "t")] == ["01098765432"]
    assert scan_bytes(b"950101-2345678", "t")[0].kind == "resident_number"


def test_exact_strings_catch_short_names() -> None:
    assert scan_bytes(_abi_string("이수"), "t") == []
    assert [h.kind for h in scan_bytes(_abi_string("이수"), "t", ["이수".encode()])] == ["exact"]


def test_random_chain_data_gives_no_false_hits() -> None:
    data = secrets.token_bytes(2_000_000)
    assert [h for h in scan_bytes(data, "t") if h.kind != "name"] == []
    assert len([h for h in scan_bytes(data, "t") if h.kind == "name"]) <= 1
