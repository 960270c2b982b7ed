"""Decoding with hand-written ABIs (no chain needed)."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from busanchain.explorer.decoder import ContractBook, parse_transfer

TOKEN = "0x" + "11" * 20
OTHER = "0x" + "22" * 20
ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

ABI = [
    {
        "type": "function",
        "name": "send",
        "inputs": [
            {"name": "to", "type": "address"},
            {
                "name": "order",
                "type": "tuple",
                "components": [
                    {"name": "amount", "type": "uint256"},
                    {"name": "memo", "type": "bytes"},
                ],
            },
        ],
    },
    {
        "type": "event",
        "name": "Tagged",
        "anonymous": False,
        "inputs": [
            {"name": "who", "type": "address", "indexed": True},
            {"name": "tag", "type": "string", "indexed": True},
            {"name": "amounts", "type": "uint256[]", "indexed": False},
        ],
    },
    {
        "type": "error",
        "name": "Closed",
        "inputs": [{"name": "since", "type": "uint64"}],
    },
]


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_function_call_with_a_tuple_is_decoded() -> None:
    book = ContractBook({TOKEN: ABI}, names={TOKEN: "Shop"})
    data = _selector("send(address,(uint256,bytes))") + encode(
        ["address", "(uint256,bytes)"], [ALICE, (2**255, b"\x01\x02")]
    )

    call = book.decode_call(TOKEN.upper().replace("0X", "0x"), "0x" + data.hex())

    assert call is not None and call.name == "send"
    assert call.args == [
        {"name": "to", "type": "address", "value": ALICE},
        {
            "name": "order",
            "type": "(uint256,bytes)",
            "value": {"amount": str(2**255), "memo": "0x0102"},
        },
    ]
    assert book.name_of(TOKEN) == "Shop" and book.address_of("Shop") is not None


def test_calls_to_unknown_contracts_or_selectors_are_not_decoded() -> None:
    book = ContractBook({TOKEN: ABI})
    data = "0x" + (_selector("send(address,(uint256,bytes))") + b"\x00" * 3).hex()

    assert book.decode_call(OTHER, data) is None
    assert book.decode_call(TOKEN, "0xdeadbeef") is None
    assert book.decode_call(TOKEN, "0x") is None
    assert book.decode_call(TOKEN, data) is None  # truncated arguments
    assert book.decode_call(None, data) is None


def test_event_with_a_dynamic_indexed_argument_is_decoded() -> None:
    book = ContractBook({TOKEN: ABI})
    topics = [
        "0x" + keccak(text="Tagged(address,string,uint256[])").hex(),
        "0x" + encode(["address"], [ALICE]).hex(),
        "0x" + keccak(text="busan").hex(),
    ]

    event = book.decode_log(TOKEN, topics, "0x" + encode(["uint256[]"], [[1, 2]]).hex())

    assert event is not None and event.name == "Tagged"
    assert [a["value"] for a in event.args] == [ALICE, topics[2], ["1", "2"]]
    assert book.decode_log(TOKEN, topics[:2], "0x") is None  # wrong number of topics
    assert book.decode_log(OTHER, topics, "0x") is None


def test_revert_reasons_are_decoded() -> None:
    book = ContractBook({TOKEN: ABI})
    error = "0x08c379a0" + encode(["string"], ["잔액 부족"]).hex()
    panic = "0x4e487b71" + encode(["uint256"], [0x11]).hex()
    custom = "0x" + (_selector("Closed(uint64)") + encode(["uint64"], [7])).hex()

    assert book.decode_revert(error) == "잔액 부족"
    assert book.decode_revert(panic) == "Panic(0x11): arithmetic overflow or underflow"
    assert book.decode_revert(custom) == "Closed(since=7)"
    assert book.decode_revert("0xcafebabe") == "0xcafebabe"
    assert book.decode_revert("0x08c379a0ff") == "0x08c379a0ff"
    assert book.decode_revert("0x") is None and book.decode_revert(None) is None


def test_transfer_logs_are_recognised() -> None:
    topic = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
    sender = "0x" + encode(["address"], [ALICE]).hex()
    receiver = "0x" + encode(["address"], [TOKEN]).hex()
    amount = "0x" + encode(["uint256"], [5]).hex()

    transfer = parse_transfer([topic, sender, receiver], amount)

    assert transfer is not None and (transfer.from_address, transfer.amount) == (ALICE, 5)
    assert parse_transfer([topic, sender, receiver, receiver], "0x") is None  # ERC-721 form
    assert parse_transfer(["0x" + "00" * 32, sender, receiver], amount) is None
