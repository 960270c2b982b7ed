"""Decoding of revert data into a readable reason."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

PANIC_CODES = {
    0x00: "generic compiler panic",
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


def _abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item.get("components", []))
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


def error_selectors(abis: Iterable[list[dict[str, Any]]]) -> dict[bytes, dict[str, Any]]:
    """Map 4-byte selectors to custom-error ABI entries across the given ABIs."""
    table: dict[bytes, dict[str, Any]] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") == "error":
                sig = f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})"
                table[keccak(text=sig)[:4]] = item
    return table


def decode_revert(
    data: bytes, custom_errors: Mapping[bytes, Mapping[str, Any]] | None = None
) -> str:
    """A readable reason for revert data: `Error(string)`'s text, `Panic(0x11): ...`, or a
    known custom error as `Name(arg=value)`; unknown or malformed data comes back as hex.
    """
    if not data:
        return "reverted without a reason"
    selector, body = data[:4], data[4:]
    try:
        if selector == ERROR_STRING_SELECTOR:
            return str(decode(["string"], body)[0])
        if selector == PANIC_SELECTOR:
            code = int(decode(["uint256"], body)[0])
            return f"Panic(0x{code:02x}): {PANIC_CODES.get(code, 'unknown panic code')}"
        item = (custom_errors or {}).get(selector)
        if item is not None:
            values = decode([_abi_type(i) for i in item["inputs"]], body)
            pairs = zip(item["inputs"], values, strict=True)
            args = ", ".join(f"{i['name'] or 'arg'}={_render(i['type'], v)}" for i, v in pairs)
            return f"{item['name']}({args})"
    except Exception:  # malformed revert data must never break the caller
        return "0x" + data.hex()
    return "0x" + data.hex()


def _render(abi_type: str, value: Any) -> str:
    if abi_type == "address":
        return str(to_checksum_address(value))
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def revert_data_from_error(error: Any) -> bytes | None:
    """Extract revert bytes from a JSON-RPC error object (anvil, geth, Besu shapes)."""
    if isinstance(error, dict):
        data = error.get("data")
        if isinstance(data, dict):
            data = data.get("data") or data.get("result")
        if isinstance(data, str) and data.startswith("0x"):
            try:
                return bytes.fromhex(data[2:])
            except ValueError:
                return None
    return None


_ARTIFACTS = Path(__file__).parent / "artifacts"


@functools.cache
def all_custom_errors() -> dict[bytes, dict[str, Any]]:
    """Custom errors declared by every compiled contract of the platform."""
    abis = [
        json.loads(p.read_text(encoding="utf-8"))["abi"] for p in sorted(_ARTIFACTS.glob("*.json"))
    ]
    return error_selectors(abis)
