"""The whole platform across restarts: clean stop, kill -9 of the process, and info --json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from eth_account import Account

from busanchain.chain.client import ChainClient
from busanchain.config import Settings
from busanchain.platform.runtime import PlatformRuntime
from busanchain.token.service import TokenService
from tests.conftest import REPO_ROOT
from tests.crash.helpers import crash_settings, erc20_balance, platform_env, wait_until


def _mint(runtime: PlatformRuntime, to: str, amount: int, ref: str) -> None:
    token = TokenService(runtime.context)
    with runtime.context.unit_of_work() as session:
        entry = token.enqueue_issue(
            session, issuer=runtime.operator, to=to, amount=amount, deposit_ref=ref, owner=None
        )
    token.outbox.broadcast(entry.id)
    assert token.outbox.wait(entry.id).status == "confirmed"


def test_clean_stop_keeps_height_balances_and_transfers(tmp_path: Path, database_url: str) -> None:
    settings = crash_settings(tmp_path, database_url, anvil_block_time=1.0)
    holder = Account.create().address
    runtime = PlatformRuntime(settings)
    runtime.start()
    _mint(runtime, holder, 4_200, "clean-1")
    token = TokenService(runtime.context).contract().address
    height = ChainClient(settings.node_rpc_url).block_number()
    runtime.stop()

    again = PlatformRuntime(settings)
    info = again.start()
    try:
        client = ChainClient(settings.node_rpc_url)
        assert info.block_number >= height
        assert info.contracts["DigitalWon"] == token  # not redeployed
        assert erc20_balance(client, token, holder) == 4_200
        _mint(again, holder, 1, "clean-2")  # the nonce allocator continues where it was
        assert erc20_balance(client, token, holder) == 4_201
    finally:
        again.stop()


def _env(settings: Settings) -> dict[str, str]:
    return platform_env(settings, snapshot_interval="3600")  # only final/orphan snapshots


def _up(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "busanchain", "up", "--demo"],
            env=_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
        )

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()[-3000:]
        return httpx.get(f"{settings.web_url}/api/health", timeout=2).status_code == 200

    wait_until(healthy, timeout_s=90, what="platform up")
    return proc


def _info(settings: Settings) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "busanchain", "info", "--json"],
        env=_env(settings),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_kill_9_of_the_platform_keeps_everything(tmp_path: Path, database_url: str) -> None:
    settings = crash_settings(tmp_path, database_url)
    log = tmp_path / "up.log"
    proc = _up(settings, log)
    info = _info(settings)
    assert set(info) == {"web_url", "rpc_url", "chain_id", "block_number", "contracts"}
    token = str(info["contracts"]["DigitalWon"])  # type: ignore[index]
    client = ChainClient(settings.node_rpc_url)
    code = client.request("eth_getCode", [token, "latest"])
    assert len(code) > 1000  # DigitalWon's code is on chain
    contracts = info["contracts"]
    assert isinstance(contracts, dict)
    assert set(contracts) == {
        "DigitalWon",
        "MerchantRegistry",
        "PolicyVoucher",
        "PhotoNFT",
        "Gallery",
    }
    for address in contracts.values():
        assert len(client.request("eth_getCode", [address, "latest"])) > 1000
    holders = httpx.get(f"{settings.web_url}/api/explorer/overview", timeout=5)
    assert holders.status_code == 200
    height = client.block_number()
    supply_call = {"to": token, "data": "0x18160ddd"}  # totalSupply()
    supply = int(client.request("eth_call", [supply_call, "latest"]), 16)
    assert supply > 0  # the demo data minted

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc = _up(settings, log)
    try:
        after = _info(settings)
        assert after["contracts"] == info["contracts"]
        assert int(after["block_number"]) >= height  # type: ignore[call-overload]
        assert int(client.request("eth_call", [supply_call, "latest"]), 16) == supply
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert not (settings.data_dir / "runtime.json").exists()


def test_kill_9_of_platform_and_node_without_snapshot_replays_everything(
    tmp_path: Path, database_url: str
) -> None:
    settings = crash_settings(tmp_path, database_url)
    log = tmp_path / "up.log"
    proc = _up(settings, log)
    info = _info(settings)
    token = str(info["contracts"]["DigitalWon"])  # type: ignore[index]
    client = ChainClient(settings.node_rpc_url)
    supply_call = {"to": token, "data": "0x18160ddd"}  # totalSupply()
    supply = int(client.request("eth_call", [supply_call, "latest"]), 16)
    node_pid = int((settings.chain_dir / "anvil.pid").read_text())

    proc.send_signal(signal.SIGKILL)  # the platform ...
    os.kill(node_pid, signal.SIGKILL)  # ... and its node die together: no snapshot at all
    proc.wait(timeout=10)
    assert not (settings.chain_dir / "state.json.gz").exists()
    proc = _up(settings, log)
    try:
        after = _info(settings)
        assert after["contracts"] == info["contracts"]  # the deployment was replayed
        assert int(client.request("eth_call", [supply_call, "latest"]), 16) == supply
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
