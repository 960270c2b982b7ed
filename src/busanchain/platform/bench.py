"""Benchmarks: measured on a private node and database, reported as one JSON object.

`busanchain bench outbox` compares the reliable pipeline (sign, commit to the outbox, then
broadcast) with a baseline that only signs and broadcasts, in the same run, on the same node.
`busanchain bench snapshots` measures the node supervisor's periodic snapshot of a still node:
found unchanged and kept, against checked and written again.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

from busanchain.chain.client import ChainClient
from busanchain.chain.node import AnvilConfig, AnvilSupervisor, find_anvil_binary
from busanchain.chain.rpc import raw_call
from busanchain.chain.signing import Signer, signer_from_key
from busanchain.config import Settings
from busanchain.db.migrate import upgrade
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext


def _funded_signer(client: ChainClient) -> Signer:
    """A fresh key with test ether (anvil_setBalance: the bench runs on a private node)."""
    account = Account.create()
    client.request("anvil_setBalance", [account.address, hex(10**21)])
    return signer_from_key("0x" + account.key.hex().removeprefix("0x"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_mined(client: ChainClient, hashes: list[str]) -> None:
    for tx_hash in hashes:
        while client.receipt(tx_hash) is None:
            time.sleep(0.01)


def _baseline(client: ChainClient, count: int) -> list[str]:
    signer = _funded_signer(client)
    nonce, chain_id, fees = client.nonce(signer.address), client.chain_id(), client.fee_params()
    hashes = []
    for i in range(count):
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": chain_id,
            "nonce": nonce + i,
            "gas": 21_000,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "to": Account.create().address,
            "value": 1,
            "data": b"",
        }
        signed = signer.sign_transaction(tx)
        client.send_raw(signed.raw)
        hashes.append(signed.hash)
    return hashes


def _outbox(context: PlatformContext, client: ChainClient, count: int) -> list[str]:
    signer = _funded_signer(client)
    outbox = OutboxService(context, client)
    hashes = []
    for _ in range(count):
        with context.unit_of_work() as session:
            entry = outbox.enqueue(
                session,
                signer=signer,
                intent="bench",
                to=Account.create().address,
                data=b"",
                value=1,
                gas=21_000,
            )
            entry_id, tx_hash = entry.id, entry.tx_hash
        outbox.broadcast(entry_id)
        hashes.append(tx_hash)
    return hashes


def _timed(run: Callable[[], list[str]], client: ChainClient) -> dict[str, float]:
    started = time.perf_counter()
    hashes = run()
    submitted = time.perf_counter()
    _wait_mined(client, hashes)
    done = time.perf_counter()
    return {
        "submit_s": round(submitted - started, 3),
        "total_s": round(done - started, 3),
        "tx_per_s": round(len(hashes) / (done - started), 1),
        "ms_per_tx_submit": round(1000 * (submitted - started) / len(hashes), 3),
    }


def bench_outbox(root: Path, count: int, database_url: str | None = None) -> dict[str, Any]:
    """Measure baseline vs outbox submission of `count` value transfers each."""
    with tempfile.TemporaryDirectory(prefix="busanchain-bench-") as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.sqlite3"
        settings = Settings.from_env(environ={}, root=root).with_overrides(
            data_dir=Path(tmp), database_url=url
        )
        node = AnvilSupervisor(
            AnvilConfig(
                binary=find_anvil_binary(settings.node_modules),
                state_dir=Path(tmp) / "chain",
                port=_free_port(),
                block_time=1.0,
            )
        )
        node.start(watch=False)
        context = PlatformContext.create(settings.with_overrides(rpc_url=node.config.rpc_url))
        try:
            upgrade(context.engine)
            client = ChainClient(node.config.rpc_url)
            baseline = _timed(lambda: _baseline(client, count), client)
            outbox = _timed(lambda: _outbox(context, client, count), client)
        finally:
            context.close()
            node.stop(snapshot=False)
    return {
        "benchmark": "outbox_vs_direct_broadcast",
        "count": count,
        "database": context.engine.dialect.name,
        "node": "anvil 1.7.1, --block-time 1",
        "baseline_direct_broadcast": baseline,
        "outbox_commit_then_broadcast": outbox,
        "overhead_ms_per_tx": round(outbox["ms_per_tx_submit"] - baseline["ms_per_tx_submit"], 3),
    }


SNAPSHOT_SENDERS = 4  # anvil's first dev accounts, each sending its own nonce sequence
SEND_WINDOW = 16  # transfers in flight per sender: a long pool slows anvil's mining a lot


def _send_transfers(rpc_url: str, sender: str, count: int, done: list[int]) -> None:
    call = {"from": sender, "to": "0x" + "11" * 20, "value": "0x1"}
    first = int(raw_call(rpc_url, "eth_getTransactionCount", [sender, "latest"]), 16)
    with httpx.Client(timeout=30) as http:
        for sent in range(count):
            while sent - _mined(rpc_url, sender, first) >= SEND_WINDOW:
                time.sleep(0.005)
            body = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [call]}
            answer = http.post(rpc_url, json=body).raise_for_status().json()
            if "error" in answer:
                raise RuntimeError(f"eth_sendTransaction: {answer['error']}")
            done[0] += 1


def _mined(rpc_url: str, sender: str, first_nonce: int) -> int:
    return int(raw_call(rpc_url, "eth_getTransactionCount", [sender, "latest"]), 16) - first_nonce


def _fill_chain(node: AnvilSupervisor, txs: int, progress: Callable[[str, int, int], None]) -> int:
    """`txs` value transfers on an automining node, then a quiet pool; the number mined."""
    url = node.config.rpc_url
    senders = raw_call(url, "eth_accounts", [])[:SNAPSHOT_SENDERS]
    done = [0]
    shares = [txs // len(senders) + (i < txs % len(senders)) for i in range(len(senders))]
    threads = [
        threading.Thread(target=_send_transfers, args=(url, sender, share, done))
        for sender, share in zip(senders, shares, strict=True)
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        progress("transfers sent", done[0], txs)
        time.sleep(0.5)
    progress("transfers sent", done[0], txs)
    while int(raw_call(url, "txpool_status", [])["pending"], 16):
        time.sleep(0.5)  # anvil answers before it mines; the backlog is still being mined
    return sum(_mined(url, sender, 0) for sender in senders)


def _timed_snapshot(node: AnvilSupervisor) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    node.snapshot()
    return time.process_time() - cpu, time.perf_counter() - wall


def bench_snapshots(
    root: Path,
    txs: int,
    rounds: int,
    empty_blocks: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """The cost of a periodic snapshot of a still node: checked and written again (the
    baseline: the snapshot file is removed first) against found unchanged and kept.

    `txs` transfers are mined first, then `empty_blocks` empty blocks (`anvil_mine`: the
    history a node with a block time gathers while idle, 86,400 a day at 1 s)."""
    report = progress or (lambda stage, done, total: None)
    samples: dict[str, list[tuple[float, float]]] = {"rewritten": [], "unchanged": []}
    with tempfile.TemporaryDirectory(prefix="busanchain-snapbench-") as tmp:
        node = AnvilSupervisor(
            AnvilConfig(
                binary=find_anvil_binary(root / "node_modules"),
                state_dir=Path(tmp) / "chain",
                port=_free_port(),
                block_time=None,  # automine: one block per transaction
                snapshot_interval_s=3600,
            )
        )
        node.start(watch=False)
        try:
            mined = _fill_chain(node, txs, report) if txs else 0
            if empty_blocks:
                report("empty blocks", 0, empty_blocks)
                raw_call(node.config.rpc_url, "anvil_mine", [hex(empty_blocks)], timeout_s=3600)
                report("empty blocks", empty_blocks, empty_blocks)
            node.snapshot()
            for i in range(2 * rounds):  # alternating, so drift on the machine hits both
                if i % 2 == 0:
                    node.config.snapshot_path.unlink()
                samples["rewritten" if i % 2 == 0 else "unchanged"].append(_timed_snapshot(node))
                report("snapshots", i + 1, 2 * rounds)
            blocks = int(raw_call(node.config.rpc_url, "eth_blockNumber", []), 16)
            size = node.config.snapshot_path.stat().st_size
            unchanged = node.unchanged_snapshots
        finally:
            node.stop(snapshot=False)
    return {
        "benchmark": "node_snapshot_of_a_still_node",
        "node": "anvil 1.7.1, automine",
        "transactions": txs,
        "transactions_mined": mined,
        "empty_blocks": empty_blocks,
        "blocks": blocks,
        "snapshot_bytes": size,
        "unchanged_snapshots": unchanged,
        "baseline_checked_and_rewritten": _medians(samples["rewritten"]),
        "found_unchanged": _medians(samples["unchanged"]),
    }


def _medians(samples: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "snapshots": len(samples),
        "cpu_s_median": round(statistics.median(cpu for cpu, _ in samples), 4),
        "wall_s_median": round(statistics.median(wall for _, wall in samples), 4),
        "wall_s_max": round(max(wall for _, wall in samples), 4),
    }
