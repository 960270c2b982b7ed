"""Every function, constructor and modifier of our contracts carries NatSpec (house rule)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DECLARATION = re.compile(r"^\s*(function|constructor|modifier)\b")


def undocumented(source: str) -> list[str]:
    """Declarations whose previous non-blank line does not end a NatSpec comment."""
    lines = source.splitlines()
    missing: list[str] = []
    for number, line in enumerate(lines):
        if not DECLARATION.match(line):
            continue
        before = next((p.strip() for p in reversed(lines[:number]) if p.strip()), "")
        if not (before.startswith("///") or before.endswith("*/")):
            missing.append(f"{number + 1}: {line.strip()}")
    return missing


def test_every_contract_function_has_natspec() -> None:
    sources = sorted((REPO / "contracts").glob("*.sol"))
    assert len(sources) >= 5
    missing = {s.name: undocumented(s.read_text(encoding="utf-8")) for s in sources}
    assert {name: lines for name, lines in missing.items() if lines} == {}


def test_the_check_finds_an_undocumented_function() -> None:
    source = (
        "contract A {\n    /// @notice ok\n    function a() external {}\n\n"
        "    function b() external {}\n}\n"
    )
    assert undocumented(source) == ["5: function b() external {}"]
