"""Decoding calls, events and revert data of known contracts.

A `ContractBook` maps contract addresses to their ABIs (and names). The indexer uses it to
turn calldata into a function name and arguments, logs into events, and revert data into a
readable reason. Arguments are made JSON-safe: integers become decimal strings (uint256 does
not fit a JavaScript number), bytes become 0x-hex and addresses are checksummed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from busanchain.chain.revert import decode_revert

AbiEntry = Mapping[str, Any]
Abi = Sequence[AbiEntry]

DIGITAL_WON = "DigitalWon"
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


@dataclass(frozen=True)
class DecodedItem:
    """A decoded function call, event or custom error: its name and its arguments."""

    name: str
    args: list[dict[str, Any]]

    def args_json(self) -> str:
        """The arguments as compact JSON text, for storage."""
        return json.dumps(self.args, ensure_ascii=False, separators=(",", ":"))

    def describe(self) -> str:
        """A one-line form such as `Error(account=0x…, needed=5)`."""
        inner = ", ".join(f"{a['name']}={_flat(a['value'])}" for a in self.args)
        return f"{self.name}({inner})"


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _types(inputs: Iterable[AbiEntry]) -> list[str]:
    return [collapse_if_tuple(dict(item)) for item in inputs]


def _selector(entry: AbiEntry) -> bytes:
    signature = f"{entry['name']}({','.join(_types(entry.get('inputs', [])))})"
    return keccak(text=signature)


def _json_value(entry: AbiEntry, value: Any) -> Any:
    kind = str(entry["type"])
    if kind.endswith("]"):
        inner = dict(entry, type=kind[: kind.rindex("[")])
        return [_json_value(inner, item) for item in value]
    if kind == "tuple":
        components = entry.get("components", [])
        return {
            str(c.get("name") or i): _json_value(c, v)
            for i, (c, v) in enumerate(zip(components, value, strict=True))
        }
    if kind == "address":
        return str(to_checksum_address(value))
    if kind.startswith("bytes"):
        return "0x" + bytes(value).hex()
    if kind.startswith(("uint", "int")):
        return str(value)
    return value


def _named_args(inputs: Sequence[AbiEntry], values: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": str(entry.get("name") or f"arg{i}"),
            "type": collapse_if_tuple(dict(entry)),
            "value": _json_value(entry, value),
        }
        for i, (entry, value) in enumerate(zip(inputs, values, strict=True))
    ]


def _hex_bytes(value: str) -> bytes:
    body = value[2:] if value.startswith("0x") else value
    return bytes.fromhex(body)


@dataclass
class _ContractAbi:
    name: str
    functions: dict[bytes, AbiEntry] = field(default_factory=dict)
    events: dict[tuple[bytes, int], AbiEntry] = field(default_factory=dict)


class ContractBook:
    """The contracts the explorer knows: address -> name and ABI."""

    def __init__(self, abis: Mapping[str, Abi], names: Mapping[str, str] | None = None) -> None:
        """Build a book from `{address: abi}` and optional `{address: contract name}`."""
        names = {to_checksum_address(a): n for a, n in (names or {}).items()}
        self._contracts: dict[str, _ContractAbi] = {}
        self._errors: dict[bytes, AbiEntry] = {}
        for raw_address, abi in abis.items():
            address = str(to_checksum_address(raw_address))
            self._contracts[address] = self._index_abi(names.get(address, address), abi)

    def _index_abi(self, name: str, abi: Abi) -> _ContractAbi:
        contract = _ContractAbi(name=name)
        for entry in abi:
            kind = entry.get("type")
            if kind == "function":
                contract.functions[_selector(entry)[:4]] = entry
            elif kind == "event" and not entry.get("anonymous"):
                indexed = sum(1 for i in entry.get("inputs", []) if i.get("indexed"))
                contract.events[(_selector(entry), indexed)] = entry
            elif kind == "error":
                self._errors[_selector(entry)[:4]] = entry
        return contract

    @property
    def addresses(self) -> dict[str, str]:
        """Known contracts as `{checksummed address: name}`."""
        return {address: c.name for address, c in self._contracts.items()}

    def fingerprint(self) -> tuple[tuple[str, str], ...]:
        """A value that changes when the set of known contracts changes."""
        return tuple(sorted(self.addresses.items()))

    def name_of(self, address: str | None) -> str | None:
        """The name of a known contract, or None."""
        contract = self._contracts.get(str(to_checksum_address(address))) if address else None
        return contract.name if contract else None

    def address_of(self, name: str) -> str | None:
        """The address of the contract with this name, or None."""
        for address, contract in self._contracts.items():
            if contract.name == name:
                return address
        return None

    def decode_call(self, to: str | None, input_hex: str) -> DecodedItem | None:
        """Decode calldata sent to a known contract; None when unknown or malformed."""
        contract = self._contracts.get(str(to_checksum_address(to))) if to else None
        data = _hex_bytes(input_hex)
        if contract is None or len(data) < 4:
            return None
        entry = contract.functions.get(data[:4])
        if entry is None:
            return None
        return self._decode_entry(entry, data[4:])

    def decode_log(self, address: str, topics: Sequence[str], data_hex: str) -> DecodedItem | None:
        """Decode a log emitted by a known contract; None when unknown or malformed."""
        contract = self._contracts.get(str(to_checksum_address(address)))
        if contract is None or not topics:
            return None
        entry = contract.events.get((_hex_bytes(topics[0]), len(topics) - 1))
        if entry is None:
            return None
        try:
            return _decode_event(entry, [_hex_bytes(t) for t in topics[1:]], _hex_bytes(data_hex))
        except (DecodingError, ValueError, OverflowError):
            return None

    def decode_revert(self, data_hex: str | None) -> str | None:
        """A readable revert reason: Error(string), Panic(uint256) or a known custom error.

        Unknown revert data is returned as hex; empty data gives None.
        """
        data = _hex_bytes(data_hex or "0x")
        return decode_revert(data, self._errors) if data else None

    @staticmethod
    def _decode_entry(entry: AbiEntry, body: bytes) -> DecodedItem | None:
        inputs = list(entry.get("inputs", []))
        try:
            values = abi_decode(_types(inputs), body)
        except (DecodingError, ValueError, OverflowError):
            return None
        return DecodedItem(str(entry["name"]), _named_args(inputs, values))


def _decode_event(entry: AbiEntry, topics: list[bytes], data: bytes) -> DecodedItem:
    inputs = list(entry.get("inputs", []))
    plain = [i for i in inputs if not i.get("indexed")]
    plain_values = iter(abi_decode(_types(plain), data))
    topic_values = iter(topics)
    args: list[dict[str, Any]] = []
    for position, item in enumerate(inputs):
        name = str(item.get("name") or f"arg{position}")
        kind = collapse_if_tuple(dict(item))
        if not item.get("indexed"):
            value = _json_value(item, next(plain_values))
        elif _is_dynamic(kind):
            value = "0x" + next(topic_values).hex()  # the topic is only the keccak of the value
        else:
            value = _json_value(item, abi_decode([kind], next(topic_values))[0])
        args.append({"name": name, "type": kind, "value": value})
    return DecodedItem(str(entry["name"]), args)


def _is_dynamic(kind: str) -> bool:
    return kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("(")


@dataclass(frozen=True)
class TransferEvent:
    """A decoded ERC-20 Transfer (from, to, amount)."""

    from_address: str
    to_address: str
    amount: int


def parse_transfer(topics: Sequence[str], data_hex: str) -> TransferEvent | None:
    """Read an ERC-20 Transfer log (3 topics, amount in data); None for anything else."""
    if len(topics) != 3 or topics[0].lower() != TRANSFER_TOPIC:
        return None
    data = _hex_bytes(data_hex)
    if len(data) != 32:
        return None
    return TransferEvent(
        str(to_checksum_address("0x" + topics[1][-40:])),
        str(to_checksum_address("0x" + topics[2][-40:])),
        int.from_bytes(data, "big"),
    )
