"""`busanchain bench expiry`: the gas of `withdrawExpired` does not depend on the holders.

For each holder count N a program is created with N real voucher balances (direct
`grantBatch` in chunks of GRANT_CHUNK) and N more holders under a posted Merkle root
(unclaimed), then the chain's clock is moved past expiry and `withdrawExpired` is called.
The withdrawal never loops over holders, so its gasUsed must be the same for every N.

To compare like with like, the storage the withdrawal touches is in the same state for every
program: the treasury already holds some DigitalWon, and a sentinel program that never
expires keeps `totalLocked` and the contract's token balance above zero (clearing a slot to
zero earns a refund and would make the last measurement look cheaper).

This runs on a private anvil (started here) with the node's unlocked dev account: it measures
the contract, not the platform's outbox.
"""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from eth_abi import encode
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from busanchain.chain.artifacts import load_artifact
from busanchain.chain.node import AnvilConfig, AnvilSupervisor, find_anvil_binary
from busanchain.chain.rpc import make_web3
from busanchain.config import Settings
from busanchain.vouchers.merkle import grants_tree

GRANT_CHUNK = 1_000
GRANT_GAS = 120_000_000
GRANT_BATCH_SELECTOR = "0x" + keccak(text="grantBatch(uint256,address[],uint256[])")[:4].hex()
AMOUNT = 1_000
ROUND_ID = 1
SENTINEL = 999_999
EXPIRY_S = 3_600
BENCH_GAS_LIMIT = 300_000_000

Progress = Callable[[str, int, int], None]


def _noop(_stage: str, _done: int, _total: int) -> None:
    """No progress display."""


class ExpiryBench:
    """DigitalWon, MerchantRegistry and PolicyVoucher on a private node, driven by web3."""

    def __init__(self, w3: Web3, progress: Progress = _noop) -> None:
        self.w3 = w3
        self.progress = progress
        accounts = list(w3.eth.accounts)
        self.admin, self.treasury = accounts[0], accounts[1]
        self.token = self._deploy("DigitalWon", self.admin)
        registry = self._deploy("MerchantRegistry", self.admin)
        self.voucher = self._deploy(
            "PolicyVoucher", self.admin, self.token.address, registry.address, self.treasury
        )
        self._mint(self.treasury, 1)  # the treasury's balance slot is already non-zero
        self._next_holder = 1

    def _deploy(self, name: str, *args: Any) -> Contract:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        tx_hash = factory.constructor(*args).transact({"from": self.admin})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        address = receipt["contractAddress"]
        return cast(Contract, self.w3.eth.contract(address=address, abi=artifact.abi))

    def _send(self, fn: Any, gas: int | None = None) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": self.admin}
        if gas is not None:
            tx["gas"] = gas
        receipt = dict(self.w3.eth.wait_for_transaction_receipt(fn.transact(tx), timeout=300))
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction reverted: {receipt['transactionHash']!r}")
        return receipt

    def _mint(self, to: str, amount: int) -> None:
        self._send(self.token.functions.mint(to, amount, Web3.keccak(text=f"bench:{to}:{amount}")))

    def holders(self, count: int) -> list[str]:
        """`count` fresh, distinct addresses."""
        start, self._next_holder = self._next_holder, self._next_holder + count
        return ["0x" + i.to_bytes(20, "big").hex() for i in range(start, start + count)]

    def now(self) -> int:
        """The latest block's timestamp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def create_program(self, program_id: int, budget: int, expiry: int) -> None:
        """Create a program with no category or district limits."""
        self._mint(self.admin, budget)
        self._send(self.token.functions.approve(self.voucher.address, budget))
        params: tuple[Any, ...] = (budget, 0, 0, 0, self.now(), expiry, [], [], [])
        self._send(self.voucher.functions.createProgram(program_id, params))

    def populate(self, program_id: int, count: int) -> list[str]:
        """`count` real balances by direct grants and `count` unclaimed Merkle leaves."""
        unclaimed = self.holders(count)
        tree = grants_tree([(a, AMOUNT) for a in unclaimed], ROUND_ID)
        self._send(
            self.voucher.functions.postRound(program_id, ROUND_ID, tree.root, AMOUNT * count)
        )
        granted = self.holders(count)
        stage = f"grants to {count:,} holders"
        hashes = []
        for start in range(0, count, GRANT_CHUNK):
            chunk = granted[start : start + GRANT_CHUNK]
            hashes.append(self._grant_batch(program_id, chunk))
            self.progress(stage, start + len(chunk), count)
        for tx_hash in hashes:
            self._require_success(tx_hash)
        return granted

    def _require_success(self, tx_hash: str) -> None:
        """Wait for a receipt (raw JSON: web3's formatting of 1,000 logs is slow); status 1."""
        deadline = time.monotonic() + 300
        while True:
            receipt = self.w3.provider.make_request("eth_getTransactionReceipt", [tx_hash])  # type: ignore[arg-type]
            result = receipt.get("result")
            if result:
                if int(result["status"], 16) != 1:
                    raise RuntimeError(f"grantBatch reverted: {tx_hash}")
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"no receipt for {tx_hash}")
            time.sleep(0.05)

    def _grant_batch(self, program_id: int, recipients: list[str]) -> str:
        """Send grantBatch with calldata encoded by eth_abi (web3's encoder is the slow part)."""
        args = encode(
            ["uint256", "address[]", "uint256[]"],
            [program_id, recipients, [AMOUNT] * len(recipients)],
        )
        tx = {
            "from": self.admin,
            "to": self.voucher.address,
            "data": GRANT_BATCH_SELECTOR + args.hex(),
            "gas": hex(GRANT_GAS),
        }
        answer = self.w3.provider.make_request("eth_sendTransaction", [tx])  # type: ignore[arg-type]
        if "error" in answer:
            raise RuntimeError(f"grantBatch was refused: {answer['error']}")
        return str(answer["result"])

    def warp(self, seconds: int) -> None:
        """Move the chain's clock forward and mine a block."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def balance(self, holder: str, program_id: int) -> int:
        """A holder's voucher balance."""
        return int(self.voucher.functions.balanceOf(holder, program_id).call())

    def measure(self, counts: Sequence[int]) -> dict[str, Any]:
        """Create, populate, expire and withdraw one program per count; return the figures."""
        expiry = self.now() + EXPIRY_S
        self.create_program(SENTINEL, AMOUNT, self.now() + 365 * 86_400)
        started = time.perf_counter()
        samples: dict[int, str] = {}
        for program_id, count in enumerate(counts, start=1):
            self.create_program(program_id, 2 * AMOUNT * count + AMOUNT, expiry)
            granted = self.populate(program_id, count)
            samples[program_id] = Web3.to_checksum_address(granted[-1])
            if self.balance(granted[-1], program_id) != AMOUNT:
                raise RuntimeError("a granted holder has no balance")
        setup_s = time.perf_counter() - started
        self.warp(max(expiry - self.now(), 0) + 60)
        results = []
        for program_id, count in enumerate(counts, start=1):
            before = int(self.token.functions.balanceOf(self.treasury).call())
            receipt = self._send(self.voucher.functions.withdrawExpired(program_id))
            after = int(self.token.functions.balanceOf(self.treasury).call())
            results.append(
                {
                    "holders": count,
                    "unclaimed_holders": count,
                    "gas_used": int(receipt["gasUsed"]),
                    "withdrawn": after - before,
                    "sample_holder": samples[program_id],
                    "balance_after_expiry": self.balance(samples[program_id], program_id),
                }
            )
        gas = {r["gas_used"] for r in results}
        return {
            "benchmark": "expiry_withdrawal_gas",
            "node": "anvil (private), automine",
            "grant_chunk": GRANT_CHUNK,
            "setup_s": round(setup_s, 1),
            "results": results,
            "constant": len(gas) == 1,
        }


def expiry_gas(holders: list[int], progress: Progress = _noop) -> dict[str, Any]:
    """Measure withdrawExpired's gas for each holder count on a private anvil (JSON figures)."""
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="busanchain-expiry-") as tmp:
        node = AnvilSupervisor(
            AnvilConfig(
                binary=find_anvil_binary(settings.node_modules),
                state_dir=Path(tmp),
                port=_free_port(),
                block_time=None,
                gas_limit=BENCH_GAS_LIMIT,
                snapshot_interval_s=3600,
            )
        )
        node.start(watch=False)
        try:
            return ExpiryBench(make_web3(node.config.rpc_url), progress).measure(holders)
        finally:
            node.stop(snapshot=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
