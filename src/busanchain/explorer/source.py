"""Reading blocks, receipts and revert data from a JSON-RPC node in batches.

Batches keep the indexer fast on a remote node: one round trip fetches many blocks, and
`eth_getBlockReceipts` (by block hash, so that blocks and receipts come from the same fork)
fetches every receipt of a block at once. Nodes without that method get per-transaction
receipts, also batched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from busanchain.chain.rpc import raw_call
from busanchain.domain.errors import ChainError

RpcBlock = dict[str, Any]
RpcReceipt = dict[str, Any]


@dataclass(frozen=True)
class RpcFailure:
    """A JSON-RPC error answer: code, message and the optional `data` (revert bytes)."""

    code: int
    message: str
    data: str | None


def rpc_batch(
    rpc_url: str, calls: Sequence[tuple[str, list[Any]]], timeout_s: float = 30.0
) -> list[Any]:
    """Send many JSON-RPC calls in one request; results in call order.

    A call that the node answers with an error yields an `RpcFailure` in its place; a
    transport failure raises ChainError.
    """
    if not calls:
        return []
    payload = [
        {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
        for i, (method, params) in enumerate(calls)
    ]
    try:
        answers = httpx.post(rpc_url, json=payload, timeout=timeout_s).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainError(f"RPC batch failed: {exc}") from exc
    if not isinstance(answers, list):
        raise ChainError(f"RPC batch failed: {str(answers)[:300]}")
    by_id = {answer.get("id"): answer for answer in answers}
    return [_unwrap(by_id.get(i)) for i in range(len(calls))]


def _unwrap(answer: dict[str, Any] | None) -> Any:
    if answer is None:
        raise ChainError("RPC batch failed: an answer is missing.")
    if "error" in answer:
        error = answer["error"] or {}
        data = error.get("data")
        return RpcFailure(
            int(error.get("code", 0)),
            str(error.get("message", "")),
            data if isinstance(data, str) else None,
        )
    return answer.get("result")


def _require(result: Any, what: str) -> Any:
    if isinstance(result, RpcFailure):
        raise ChainError(f"RPC {what} failed: {result.message}")
    return result


def hex_int(value: str | None) -> int:
    """Parse a 0x-quantity (None counts as 0)."""
    return int(value, 16) if value else 0


class BlockSource:
    """The indexer's view of the chain."""

    def __init__(self, rpc_url: str, timeout_s: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self.timeout_s = timeout_s
        self._block_receipts: bool | None = None

    def chain_id(self) -> int:
        """The chain id the node reports."""
        return hex_int(raw_call(self.rpc_url, "eth_chainId", [], self.timeout_s))

    def head(self) -> int:
        """The number of the latest block."""
        return hex_int(raw_call(self.rpc_url, "eth_blockNumber", [], self.timeout_s))

    def blocks(self, numbers: Sequence[int]) -> list[RpcBlock | None]:
        """Blocks with full transactions; None where the chain has no such block."""
        calls = [("eth_getBlockByNumber", [hex(n), True]) for n in numbers]
        results = rpc_batch(self.rpc_url, calls, self.timeout_s)
        return [_require(r, "eth_getBlockByNumber") for r in results]

    def block_hashes(self, numbers: Sequence[int]) -> dict[int, str | None]:
        """The canonical hash at each number (None past the head)."""
        calls = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        results = rpc_batch(self.rpc_url, calls, self.timeout_s)
        blocks = [_require(r, "eth_getBlockByNumber") for r in results]
        return {n: (b["hash"].lower() if b else None) for n, b in zip(numbers, blocks, strict=True)}

    def receipts(self, blocks: Sequence[RpcBlock]) -> list[list[RpcReceipt]]:
        """Every receipt of each block, in transaction order (one batch for all blocks)."""
        receipts: dict[str, list[RpcReceipt]] = {b["hash"]: [] for b in blocks}
        busy = [b for b in blocks if b["transactions"]]
        if busy and self._block_receipts is not False:
            calls = [("eth_getBlockReceipts", [b["hash"]]) for b in busy]
            results = rpc_batch(self.rpc_url, calls, self.timeout_s)
            if not any(isinstance(r, RpcFailure) for r in results):
                self._block_receipts = True
                for block, result in zip(busy, results, strict=True):
                    receipts[block["hash"]] = _checked(block, result)
                return [receipts[b["hash"]] for b in blocks]
            if self._block_receipts:
                raise ChainError("RPC eth_getBlockReceipts failed.")
            self._block_receipts = False
        for block in busy:
            calls = [("eth_getTransactionReceipt", [tx["hash"]]) for tx in block["transactions"]]
            results = rpc_batch(self.rpc_url, calls, self.timeout_s)
            receipts[block["hash"]] = _checked(block, results)
        return [receipts[b["hash"]] for b in blocks]

    def revert_data(self, txs: Sequence[dict[str, Any]], block_number: int) -> list[str | None]:
        """Replay failed transactions with eth_call on the parent block's state.

        Returns each call's revert data (0x-hex), or None when the replay did not revert
        the same way (for example when an earlier transaction of the block caused it).
        """
        tag = hex(max(block_number - 1, 0))
        calls = [("eth_call", [_call_object(tx), tag]) for tx in txs]
        results = rpc_batch(self.rpc_url, calls, self.timeout_s)
        return [r.data if isinstance(r, RpcFailure) else None for r in results]


def _call_object(tx: dict[str, Any]) -> dict[str, Any]:
    call = {"from": tx["from"], "data": tx.get("input") or "0x", "gas": tx["gas"]}
    call["value"] = tx.get("value") or "0x0"
    if tx.get("to"):
        call["to"] = tx["to"]
    return call


def _checked(block: RpcBlock, receipts: Any) -> list[RpcReceipt]:
    """Receipts that belong to this very block (a reorg between calls would break that)."""
    if not isinstance(receipts, list) or len(receipts) != len(block["transactions"]):
        raise ChainError(f"Receipts of block {block['hash']} are not available (reorg?).")
    for receipt in receipts:
        if (
            not isinstance(receipt, dict)
            or str(receipt.get("blockHash", "")).lower() != str(block["hash"]).lower()
        ):
            raise ChainError(f"Receipts of block {block['hash']} changed during indexing.")
    return receipts
