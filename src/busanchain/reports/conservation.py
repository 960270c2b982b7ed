"""The conservation proof of a program, read on chain at one fixed block, reproducible by anyone.

PolicyVoucher keeps, per program, `locked = unspent + unclaimed + unallocated` (its
`conservation` view computes `unallocated` as the difference, so it would revert if the
identity broke), and across programs `totalLocked` equals its DigitalWon balance. The proof
reads every number with `eth_call` pinned to one block, and lists each call (to, data, block)
with the raw answer, so an auditor can repeat them against any node of the chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from web3.contract import Contract

from busanchain.domain.errors import NotFound
from busanchain.platform.context import PlatformContext
from busanchain.vouchers.contracts import VoucherChain

PROGRAM_FIELDS = (
    "budget",
    "per_person_amount",
    "per_payment_cap",
    "daily_cap",
    "start",
    "expiry",
    "restrict_categories",
    "restrict_districts",
    "paused",
    "withdrawn",
)
LEDGER_FIELDS = ("locked", "unspent", "unclaimed", "paid_out", "refunded", "withdrawn")


def output_types(contract: Contract, fn: str) -> list[str]:
    """ABI output types of a view (tuples spelled out), for eth_abi."""
    abi: Any = contract.abi
    for item in abi:
        if item.get("type") == "function" and item["name"] == fn:
            return [_type_of(out) for out in item["outputs"]]
    raise KeyError(fn)


def _type_of(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type_of(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


@dataclass(frozen=True)
class VerifiedCall:
    """One eth_call of the proof: what was asked, at which block, and the raw answer."""

    label_ko: str
    label_en: str
    signature: str
    to: str
    data: str
    block: str
    result: str
    decoded: Any

    def rpc_body(self) -> str:
        """The JSON-RPC request body that repeats this call."""
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_call",
            "params": [{"to": self.to, "data": self.data}, self.block],
        }
        return json.dumps(body, separators=(",", ":"))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label_ko": self.label_ko,
            "label_en": self.label_en,
            "signature": self.signature,
            "method": "eth_call",
            "params": [{"to": self.to, "data": self.data}, self.block],
            "result": self.result,
            "decoded": self.decoded,
            "curl": (
                "curl -s -X POST -H 'Content-Type: application/json' "
                f"--data '{self.rpc_body()}' $RPC_URL"
            ),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


class ConservationProver:
    """Reads a program's conservation identity at the latest block."""

    def __init__(self, context: PlatformContext, chain: VoucherChain | None = None) -> None:
        self.context = context
        self.chain = chain or VoucherChain(context)

    def _call(
        self, contract: Contract, fn: str, args: list[Any], block: int, labels: tuple[str, str]
    ) -> VerifiedCall:
        data = contract.encode_abi(fn, args)
        raw = self.chain.outbox.client.call({"to": contract.address, "data": data}, block)
        types = output_types(contract, fn)
        decoded = _jsonable(decode(types, raw))
        return VerifiedCall(
            labels[0],
            labels[1],
            f"{fn}({', '.join(str(a) for a in args)})",
            contract.address,
            data,
            hex(block),
            "0x" + raw.hex(),
            decoded[0] if len(decoded) == 1 else decoded,
        )

    def prove(self, program_id: int) -> dict[str, Any]:
        """The proof as JSON: identity, totals, block, contracts and the calls to repeat."""
        head = self.chain.outbox.client.request("eth_getBlockByNumber", ["latest", False])
        block = int(head["number"], 16)
        voucher, token = self.chain.voucher, self.chain.token
        rules = self._call(voucher, "program", [program_id], block, ("사업 규칙", "Rules"))
        if int(rules.decoded[5]) == 0:
            raise NotFound(
                f"Program {program_id} does not exist on chain.",
                f"{program_id}번 지원 사업이 체인에 없습니다.",
            )
        ledger = self._call(voucher, "ledger", [program_id], block, ("장부", "Ledger"))
        identity = self._call(
            voucher, "conservation", [program_id], block, ("보존 항등식", "Conservation")
        )
        total = self._call(voucher, "totalLocked", [], block, ("전체 예치액", "Total locked"))
        balance = self._call(
            token,
            "balanceOf",
            [voucher.address],
            block,
            ("바우처 계약의 디지털원 잔액", "DigitalWon held by PolicyVoucher"),
        )
        locked, unspent, unclaimed, unallocated = (int(v) for v in identity.decoded)
        return {
            "program_id": program_id,
            "chain_id": self.chain.outbox.client.chain_id(),
            "block": {
                "number": block,
                "hash": head["hash"],
                "timestamp": int(head["timestamp"], 16),
            },
            "contracts": {"PolicyVoucher": voucher.address, "DigitalWon": token.address},
            "identity": {
                "locked": locked,
                "unspent": unspent,
                "unclaimed": unclaimed,
                "unallocated": unallocated,
                "holds": locked == unspent + unclaimed + unallocated,
            },
            "program": dict(zip(PROGRAM_FIELDS, rules.decoded, strict=True)),
            "ledger": {k: int(v) for k, v in zip(LEDGER_FIELDS, ledger.decoded, strict=True)},
            "total_locked": int(total.decoded),
            "token_balance": int(balance.decoded),
            "total_matches": int(total.decoded) == int(balance.decoded),
            "verify": [c.as_dict() for c in (identity, ledger, rules, total, balance)],
        }
