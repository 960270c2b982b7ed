"""Benchmarks: measured on a private node and database, reported as one JSON object.

`busanchain bench outbox` compares the reliable pipeline (sign, commit to the outbox, then
broadcast) with a baseline that only signs and broadcasts, in the same run, on the same node.
"""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account

from busanchain.chain.client import ChainClient
from busanchain.chain.node import AnvilConfig, AnvilSupervisor, find_anvil_binary
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
