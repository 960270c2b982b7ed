"""Handles on the deployed DigitalWon, MerchantRegistry and PolicyVoucher contracts.

`VoucherChain` encodes calls (for the outbox) and reads views (decoded with the ABI), so that
the programs, merchants and payments services never build calldata by hand.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from eth_abi import decode
from web3 import Web3
from web3.contract import Contract

from busanchain.chain.artifacts import load_artifact
from busanchain.deployment.service import DeploymentService
from busanchain.domain.errors import ConfigurationError
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext

TOKEN = "DigitalWon"  # noqa: S105 (a contract name)
REGISTRY = "MerchantRegistry"
VOUCHER = "PolicyVoucher"


def _output_types(abi: Any, fn: str) -> list[str]:
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


class VoucherChain:
    """The allowance contracts on the platform's chain."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)

    @cached_property
    def addresses(self) -> dict[str, str]:
        """Contract name to address on the current chain (DigitalWon, registry, voucher)."""
        found = DeploymentService(self.context, self.outbox).addresses(
            self.outbox.client.chain_id()
        )
        missing = [n for n in (TOKEN, REGISTRY, VOUCHER) if n not in found]
        if missing:
            raise ConfigurationError(
                f"{', '.join(missing)} not deployed on this chain; run `busanchain deploy`.",
                f"이 체인에 {', '.join(missing)} 계약이 없습니다. "
                "`busanchain deploy`를 실행하세요.",
            )
        return {name: found[name] for name in (TOKEN, REGISTRY, VOUCHER)}

    def _contract(self, name: str) -> Contract:
        address = Web3.to_checksum_address(self.addresses[name])
        return Web3().eth.contract(address=address, abi=load_artifact(name).abi)

    @cached_property
    def token(self) -> Contract:
        """DigitalWon."""
        return self._contract(TOKEN)

    @cached_property
    def registry(self) -> Contract:
        """MerchantRegistry."""
        return self._contract(REGISTRY)

    @cached_property
    def voucher(self) -> Contract:
        """PolicyVoucher."""
        return self._contract(VOUCHER)

    @staticmethod
    def calldata(contract: Contract, fn: str, args: list[Any]) -> bytes:
        """ABI-encoded calldata for `fn(args)`, ready for the outbox."""
        return bytes.fromhex(contract.encode_abi(fn, args)[2:])

    def read(
        self, contract: Contract, fn: str, args: list[Any], block: str | int = "latest"
    ) -> tuple[Any, ...]:
        """Call a view and decode its outputs (a tuple, one item per output)."""
        data = contract.encode_abi(fn, args)
        out = self.outbox.client.call({"to": contract.address, "data": data}, block)
        return tuple(decode(_output_types(contract.abi, fn), out))

    def read_one(self, contract: Contract, fn: str, args: list[Any]) -> Any:
        """Call a view with a single output and return it."""
        return self.read(contract, fn, args)[0]

    def chain_time(self) -> int:
        """The timestamp of the latest block (what the contracts compare against)."""
        block = self.outbox.client.request("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    # -- common views ----------------------------------------------------------------------

    def voucher_balance(self, holder: str, program_id: int) -> int:
        """A citizen's spendable vouchers in a program (0 after expiry)."""
        return int(self.read_one(self.voucher, "balanceOf", [holder, program_id]))

    def token_balance(self, holder: str) -> int:
        """Plain DigitalWon held by an address."""
        return int(self.read_one(self.token, "balanceOf", [holder]))

    def conservation(self, program_id: int) -> tuple[Any, ...]:
        """PolicyVoucher.conservation(programId), decoded (see the contract's NatSpec)."""
        return self.read(self.voucher, "conservation", [program_id])
