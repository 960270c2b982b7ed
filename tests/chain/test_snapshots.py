"""Snapshots of the supervised node hold one moment of the chain, never a torn dump."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from busanchain.chain.node import snapshot_gap
from busanchain.chain.rpc import raw_call
from busanchain.chain.snapshots import dump_hex_to_gzip, read_dump, torn_dump
from tests.conftest import start_anvil

SINK = "0x" + "11" * 20
SNAPSHOTS = 40


def _send(url: str, sender: str, count: int) -> None:
    for _ in range(count):
        raw_call(url, "eth_sendTransaction", [{"from": sender, "to": SINK, "value": "0x1"}])


@pytest.fixture
def quiet_dump(tmp_path: Path, anvil_binary: Path) -> dict[str, Any]:
    """A dump of a node that mined 3 + 2 transfers of two senders and then stood still."""
    node = start_anvil(tmp_path / "node", anvil_binary)
    try:
        url = node.config.rpc_url
        first, second = raw_call(url, "eth_accounts", [])[:2]
        _send(url, first, 3)
        _send(url, second, 2)
        return read_dump(dump_hex_to_gzip(raw_call(url, "anvil_dumpState", [])))
    finally:
        node.stop(snapshot=False)


def _sender(state: dict[str, Any]) -> str:
    return str(state["transactions"][0]["info"]["from"]).lower()


def test_a_dump_of_a_still_node_is_whole(quiet_dump: dict[str, Any]) -> None:
    assert torn_dump(quiet_dump) is None


def test_an_account_ahead_of_its_transactions_is_torn(quiet_dump: dict[str, Any]) -> None:
    state = copy.deepcopy(quiet_dump)
    accounts = {a.lower(): a for a in state["accounts"]}
    state["accounts"][accounts[_sender(state)]]["nonce"] += 1
    assert "nonce" in (torn_dump(state) or "")


def test_a_transaction_missing_from_the_history_is_torn(quiet_dump: dict[str, Any]) -> None:
    state = copy.deepcopy(quiet_dump)
    newest = max(state["transactions"], key=lambda tx: tx["block_number"])
    state["transactions"].remove(newest)
    assert "nonce" in (torn_dump(state) or "")


def test_a_missing_newest_block_is_torn(quiet_dump: dict[str, Any]) -> None:
    state = copy.deepcopy(quiet_dump)
    best = (
        int(state["best_block_number"], 16)
        if isinstance(state["best_block_number"], str)
        else state["best_block_number"]
    )
    state["blocks"] = [b for b in state["blocks"] if int(b["header"]["number"], 16) != best]
    assert "newest block" in (torn_dump(state) or "")


def test_state_of_an_older_block_is_torn(quiet_dump: dict[str, Any]) -> None:
    state = copy.deepcopy(quiet_dump)
    state["block"]["number"] = hex(int(state["block"]["number"], 16) - 1)
    assert "state at block" in (torn_dump(state) or "")


def test_a_sender_without_account_state_is_torn(quiet_dump: dict[str, Any]) -> None:
    state = copy.deepcopy(quiet_dump)
    accounts = {a.lower(): a for a in state["accounts"]}
    del state["accounts"][accounts[_sender(state)]]
    assert "no account state" in (torn_dump(state) or "")


def test_snapshots_taken_while_blocks_are_mined_are_whole(
    tmp_path: Path, anvil_binary: Path
) -> None:
    """Under a stream of transactions, 9 of 200 plain dumps were torn (anvil 1.7.1 here), and
    most dumps of a long chain; every snapshot the supervisor writes must be whole, and
    mining must go on after each one."""
    node = start_anvil(tmp_path / "node", anvil_binary)
    stop = threading.Event()
    url = node.config.rpc_url
    sender = raw_call(url, "eth_accounts", [])[0]
    sent = []

    def stream() -> None:
        tx = {"from": sender, "to": SINK, "value": "0x1"}
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}
        with httpx.Client() as client:
            while not stop.is_set():
                sent.append(client.post(url, json=body, timeout=30).json()["result"])

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    try:
        problems = []
        for _ in range(SNAPSHOTS):
            node.snapshot()
            problems.append(torn_dump(read_dump(node.config.snapshot_path.read_bytes())))
        stop.set()
        thread.join(timeout=30)
        assert problems == [None] * SNAPSHOTS
        _wait_for_empty_pool(url)  # anvil answers a send before it mines it
        assert raw_call(url, "eth_getTransactionReceipt", [sent[-1]]) is not None
        assert int(raw_call(url, "eth_getTransactionCount", [sender, "latest"]), 16) == len(sent)
    finally:
        stop.set()
        thread.join(timeout=30)
        node.stop(snapshot=False)


def _wait_for_empty_pool(url: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while raw_call(url, "txpool_status", [])["pending"] != "0x0":
        assert time.monotonic() < deadline, "transactions sent during snapshots were not mined"
        time.sleep(0.05)


def test_a_still_node_is_not_written_again(tmp_path: Path, anvil_binary: Path) -> None:
    """A still node dumps the same bytes; the snapshot already on disk is kept as it is (not
    parsed and written again). The next block is written, and so is a file that was removed
    or replaced since."""
    node = start_anvil(tmp_path / "node", anvil_binary)
    try:
        url, path = node.config.rpc_url, node.config.snapshot_path
        node.snapshot()
        first = path.stat().st_ino, path.read_bytes()
        node.snapshot()
        assert (path.stat().st_ino, path.read_bytes()) == first
        assert node.unchanged_snapshots == 1
        _send(url, raw_call(url, "eth_accounts", [])[0], 1)
        node.snapshot()
        assert path.stat().st_ino != first[0]
        assert (
            read_dump(path.read_bytes())["best_block_number"]
            != read_dump(first[1])["best_block_number"]
        )
        assert node.unchanged_snapshots == 1
        written = path.read_bytes()
        path.unlink()
        node.snapshot()
        assert path.read_bytes() == written and node.unchanged_snapshots == 1
        path.write_bytes(first[1])  # replaced by someone else: an older state
        node.snapshot()
        assert path.read_bytes() == written and node.unchanged_snapshots == 1
    finally:
        node.stop(snapshot=False)


@pytest.mark.parametrize(
    ("interval_s", "took_s", "gap_s"),
    [
        (10.0, 0.05, 10.0),  # a short chain: the configured interval
        (0.2, 0.2, 0.2),  # the crash tests' short intervals stay as they are
        (10.0, 0.4, 10.0),  # 5% of 10 s: still within the share
        (10.0, 1.96, 39.2),  # a day of 1 s blocks: 5% of the time
        (60.0, 1.96, 60.0),  # never shorter than configured
    ],
)
def test_periodic_snapshots_take_a_bounded_share_of_the_time(
    interval_s: float, took_s: float, gap_s: float
) -> None:
    assert snapshot_gap(interval_s, took_s) == pytest.approx(gap_s)
