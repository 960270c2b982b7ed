"""ChainClient.batch: several JSON-RPC calls in one round trip, on a real anvil node."""

from __future__ import annotations

import pytest

from busanchain.chain.client import ChainClient, RpcError
from busanchain.chain.node import AnvilSupervisor
from busanchain.domain.errors import ChainError
from busanchain.platform.benchkit import free_port


def test_a_batch_answers_in_the_order_asked(anvil: AnvilSupervisor) -> None:
    client = ChainClient(anvil.config.rpc_url)
    head = client.block_number()
    chain_id, block, number = client.batch(
        [
            ("eth_chainId", []),
            ("eth_getBlockByNumber", [hex(head), False]),
            ("eth_blockNumber", []),
        ]
    )
    assert int(chain_id, 16) == client.chain_id()
    assert int(block["number"], 16) == head
    assert int(number, 16) >= head
    assert client.batch([]) == []


def test_calls_read_several_contract_answers_at_one_block(anvil: AnvilSupervisor) -> None:
    client = ChainClient(anvil.config.rpc_url)
    empty = "0x" + "11" * 20  # no code there: each eth_call answers empty bytes
    assert client.calls([{"to": empty, "data": "0x"}] * 3, client.block_number()) == [b""] * 3


def test_an_error_inside_a_batch_is_an_rpc_error(anvil: AnvilSupervisor) -> None:
    client = ChainClient(anvil.config.rpc_url)
    with pytest.raises(RpcError):
        client.batch([("eth_chainId", []), ("no_such_method", [])])


def test_an_unreachable_node_is_a_chain_error() -> None:
    client = ChainClient(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(ChainError):
        client.batch([("eth_chainId", [])])
