"""JSON-RPC client construction and readiness checks."""

from __future__ import annotations

import time
from typing import Any

import httpx
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from busanchain.domain.errors import ChainError


def make_web3(rpc_url: str, timeout_s: float = 30.0) -> Web3:
    """A synchronous Web3 client for the given JSON-RPC endpoint."""
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))


def raw_call(rpc_url: str, method: str, params: list[Any], timeout_s: float = 30.0) -> Any:
    """One JSON-RPC call without web3's result formatting; raises ChainError on error."""
    try:
        response = httpx.post(
            rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
            timeout=timeout_s,
        )
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainError(f"RPC {method} failed: {exc}") from exc
    if "error" in body:
        raise ChainError(f"RPC {method} failed: {body['error']}")
    return body.get("result")


def wait_for_rpc(rpc_url: str, timeout_s: float = 15.0) -> int:
    """Block until the node answers eth_chainId; return the chain id."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return int(raw_call(rpc_url, "eth_chainId", [], timeout_s=2.0), 16)
        except ChainError as exc:
            last = exc
            time.sleep(0.05)
    raise ChainError(f"The node at {rpc_url} did not answer within {timeout_s:.0f}s: {last}")
