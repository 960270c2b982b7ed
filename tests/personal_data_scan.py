"""Scan a chain for personal data: every transaction's input and every log's topics and data.

Used at the end of each test session on the shared node (tests/conftest.py `anvil`), so
everything the suite put on chain is checked, and by tests that run private nodes.

Patterns (the platform handles Korean personal data):
- phone numbers as ASCII: 010-1234-5678, 01012345678 (01X prefixes);
- resident registration numbers as ASCII: 6 digits, optional dash, 7 digits starting 1-8;
- Korean names as UTF-8: a run of 3-4 Hangul syllables with no other high byte on either
  side (most Korean names have three syllables; ABI-encoded strings sit between a length word
  and zero padding). Random bytes (hashes, addresses) match this about once per GB, so a
  hit is worth a look. Two-syllable names would match random bytes about once per MB, so
  they are caught only as exact strings.
Extra exact strings (names, numbers a test used) can be passed in as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

PHONE = re.compile(rb"(?<![0-9])01[016789]-?[0-9]{3,4}-?[0-9]{4}(?![0-9])")
RESIDENT = re.compile(rb"(?<![0-9])[0-9]{2}[01][0-9][0-3][0-9]-?[1-8][0-9]{6}(?![0-9])")
_SYLLABLE = (
    rb"(?:\xea[\xb0-\xbf][\x80-\xbf]|[\xeb\xec][\x80-\xbf][\x80-\xbf]|\xed[\x80-\x9e][\x80-\xbf])"
)
NAME = re.compile(rb"(?<![\x80-\xff])" + _SYLLABLE + rb"{3,4}(?![\x80-\xff])")


@dataclass(frozen=True)
class Hit:
    """Personal-looking data found on chain."""

    where: str
    kind: str
    text: str


def scan_bytes(data: bytes, where: str, extra: Iterable[bytes] = ()) -> list[Hit]:
    """Every personal-data match in one byte string."""
    hits = [
        Hit(where, kind, match.group().decode("utf-8", "replace"))
        for kind, pattern in (("phone", PHONE), ("resident_number", RESIDENT), ("name", NAME))
        for match in pattern.finditer(data)
    ]
    hits += [Hit(where, "exact", s.decode("utf-8", "replace")) for s in extra if s and s in data]
    return hits


def _rpc(client: httpx.Client, url: str, method: str, params: list[object]) -> object:
    answer = client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    return answer.json()["result"]


def scan_chain(rpc_url: str, extra: Iterable[bytes] = ()) -> tuple[int, list[Hit]]:
    """(transactions scanned, hits) over every block of the node."""
    extras = list(extra)
    hits: list[Hit] = []
    scanned = 0
    with httpx.Client(timeout=30) as client:
        head = int(str(_rpc(client, rpc_url, "eth_blockNumber", [])), 16)
        for number in range(head + 1):
            block = _rpc(client, rpc_url, "eth_getBlockByNumber", [hex(number), True])
            assert isinstance(block, dict)
            for tx in block["transactions"]:
                scanned += 1
                hits += scan_bytes(bytes.fromhex(tx["input"][2:]), f"tx {tx['hash']}", extras)
        logs = _rpc(client, rpc_url, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head)}])
        assert isinstance(logs, list)
        for log in logs:
            raw = b"".join(bytes.fromhex(t[2:]) for t in log["topics"])
            raw += bytes.fromhex(log["data"][2:])
            hits += scan_bytes(raw, f"log {log['transactionHash']}#{log['logIndex']}", extras)
    return scanned, hits
