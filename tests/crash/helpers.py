"""Shared pieces of the crash tests."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from busanchain.chain.client import ChainClient
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from tests.conftest import REPO_ROOT, free_port

# Seeds per crash scenario: 20 in CI; BUSANCHAIN_CRASH_SEEDS raises it for a long run.
CRASH_SEEDS = int(os.environ.get("BUSANCHAIN_CRASH_SEEDS", "20"))


def crash_settings(tmp: Path, database_url: str, **overrides: object) -> Settings:
    """Settings for a platform with its own embedded node, data under `tmp`."""
    base = Settings.from_env(environ={}, root=REPO_ROOT).with_overrides(
        data_dir=tmp / "var",
        database_url=database_url,
        anvil_port=free_port(),
        web_port=free_port(),
        anvil_block_time=None,
        operator_key=ANVIL_DEFAULT_OPERATOR_KEY,
        kek_env="b" * 64,
        reconcile_interval_s=0.2,
    )
    return base.with_overrides(**overrides)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0, what: str = "") -> None:
    """Poll until `predicate` is true or fail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the node may be restarting; keep polling
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def erc20_balance(client: ChainClient, token: str, holder: str) -> int:
    """balanceOf via a raw eth_call."""
    data = "0x70a08231" + holder[2:].lower().rjust(64, "0")
    return int(client.request("eth_call", [{"to": token, "data": data}, "latest"]), 16)


def platform_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for a `python -m busanchain ...` subprocess with these settings.

    BUSANCHAIN_* variables of the test process are dropped, so only `settings` count.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUSANCHAIN_")}
    env |= {
        "BUSANCHAIN_ROOT": str(REPO_ROOT),
        "BUSANCHAIN_DATA_DIR": str(settings.data_dir),
        "BUSANCHAIN_DATABASE_URL": settings.database_url,
        "BUSANCHAIN_WEB_PORT": str(settings.web_port),
        "BUSANCHAIN_ANVIL_PORT": str(settings.anvil_port),
        "BUSANCHAIN_KEK": str(settings.kek_env),
    }
    if settings.rpc_url:
        env |= {
            "BUSANCHAIN_RPC_URL": settings.rpc_url,
            "BUSANCHAIN_OPERATOR_KEY": str(settings.operator_key),
        }
    return env | {f"BUSANCHAIN_{k.upper()}": v for k, v in extra.items()}
