"""A thin JSON-RPC client for the calls the platform makes on hot paths.

web3.py is used for contract encoding; plain JSON-RPC keeps the outbox and reconciler
fast and lets them see the node's raw error objects (revert data, "nonce too low").
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from busanchain.chain.revert import revert_data_from_error
from busanchain.domain.errors import ChainError


class RpcError(ChainError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.error = error
        self.revert_data = revert_data_from_error(error)
        super().__init__(f"RPC {method} failed: {error.get('message', error)}")

    @property
    def text(self) -> str:
        """The node's error message, lower-cased."""
        return str(self.error.get("message", "")).lower()


@dataclass(frozen=True)
class FeeParams:
    """EIP-1559 fee caps for a new transaction."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int


class ChainClient:
    """JSON-RPC over HTTP with a pooled connection."""

    def __init__(self, rpc_url: str, timeout_s: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self._http = httpx.Client(timeout=timeout_s)
        self._ids = itertools.count(1)
        self._chain_id: int | None = None

    def request(self, method: str, params: list[Any]) -> Any:
        """Call one method; raise RpcError on an error answer, ChainError if unreachable."""
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            body = self._http.post(self.rpc_url, json=payload).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChainError(f"RPC {method} failed: {exc}") from exc
        if "error" in body:
            raise RpcError(method, body["error"])
        return body.get("result")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one JSON-RPC batch (one round trip); the results in order.

        Raises RpcError for the first call that got an error answer, ChainError if the node
        cannot be reached or answers something that is not a batch answer."""
        if not calls:
            return []
        first = next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": first + n, "method": method, "params": params}
            for n, (method, params) in enumerate(calls)
        ]
        for _ in calls[1:]:
            next(self._ids)
        try:
            answers = self._http.post(self.rpc_url, json=payload).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChainError(f"RPC batch of {len(calls)} failed: {exc}") from exc
        if not isinstance(answers, list) or len(answers) != len(calls):
            raise ChainError(f"RPC batch of {len(calls)}: unexpected answer")
        by_id = {answer.get("id"): answer for answer in answers}
        results = []
        for n, (method, _params) in enumerate(calls):
            answer = by_id.get(first + n)
            if answer is None:
                raise ChainError(f"RPC batch: no answer for {method}")
            if "error" in answer:
                raise RpcError(method, answer["error"])
            results.append(answer.get("result"))
        return results

    def calls(self, txs: list[dict[str, Any]], block: str | int = "latest") -> list[bytes]:
        """Several eth_calls at one block in one batch; their output bytes in order."""
        tag = hex(block) if isinstance(block, int) else block
        results = self.batch([("eth_call", [tx, tag]) for tx in txs])
        return [bytes.fromhex(str(result)[2:]) for result in results]

    def chain_id(self) -> int:
        """The chain id (cached)."""
        if self._chain_id is None:
            self._chain_id = int(self.request("eth_chainId", []), 16)
        return self._chain_id

    def block_number(self) -> int:
        """The head block number."""
        return int(self.request("eth_blockNumber", []), 16)

    def nonce(self, address: str, tag: str = "latest") -> int:
        """The account's transaction count at `tag`."""
        return int(self.request("eth_getTransactionCount", [address, tag]), 16)

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt, or None while the transaction is not mined."""
        result = self.request("eth_getTransactionReceipt", [tx_hash])
        return result if isinstance(result, dict) else None

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        """The transaction as the node knows it (pending or mined), or None."""
        result = self.request("eth_getTransactionByHash", [tx_hash])
        return result if isinstance(result, dict) else None

    def send_raw(self, raw: bytes) -> str:
        """Broadcast signed bytes; returns the hash."""
        return str(self.request("eth_sendRawTransaction", ["0x" + raw.hex()]))

    def estimate_gas(self, tx: dict[str, Any]) -> int:
        """Gas estimate; RpcError with revert_data when the call would revert."""
        return int(self.request("eth_estimateGas", [tx]), 16)

    def call(self, tx: dict[str, Any], block: str | int = "latest") -> bytes:
        """eth_call; returns the output bytes."""
        tag = hex(block) if isinstance(block, int) else block
        return bytes.fromhex(str(self.request("eth_call", [tx, tag]))[2:])

    def fee_params(self) -> FeeParams:
        """Fee caps from the live base fee: 2 x base fee + tip, so a rising base fee still fits."""
        block = self.request("eth_getBlockByNumber", ["latest", False])
        base = int(block.get("baseFeePerGas") or "0x0", 16)
        try:
            tip = int(self.request("eth_maxPriorityFeePerGas", []), 16)
        except ChainError:
            tip = 1_000_000_000
        return FeeParams(max_fee_per_gas=2 * base + tip, max_priority_fee_per_gas=tip)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
