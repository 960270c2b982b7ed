"""The indexer on a real anvil: reorgs, idempotency, decoding."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import select
from web3 import Web3

from busanchain.chain.node import AnvilSupervisor
from busanchain.chain.rpc import make_web3
from busanchain.domain.errors import ConfigurationError
from busanchain.explorer import repository
from busanchain.explorer.decoder import ContractBook
from busanchain.explorer.indexer import ChainIndexer
from busanchain.explorer.source import BlockSource, RpcBlock
from busanchain.explorer.tables import (
    IndexedBlock,
    IndexedLog,
    IndexedTransaction,
    IndexerCursor,
    TokenTransfer,
)
from busanchain.platform.context import PlatformContext

pytestmark = pytest.mark.chain

TABLES = (IndexedBlock, IndexedTransaction, IndexedLog, TokenTransfer)
GAS = 200_000


def dump(context: PlatformContext) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the index tables, in primary-key order."""
    contents: dict[str, list[tuple[Any, ...]]] = {}
    with context.unit_of_work() as session:
        for table in TABLES:
            columns = list(table.__table__.columns)
            keys = list(table.__table__.primary_key.columns)
            rows = session.execute(select(*columns).order_by(*keys)).all()
            contents[table.__tablename__] = [tuple(row) for row in rows]
    return contents


def book_for(contract: Any, name: str = "DigitalWon") -> ContractBook:
    return ContractBook({contract.address: contract.abi}, names={contract.address: name})


def send(w3: Web3, call: Any, sender: str) -> str:
    tx_hash = call.transact({"from": sender, "gas": GAS})
    w3.eth.wait_for_transaction_receipt(tx_hash)
    return "0x" + bytes(tx_hash).hex()


@pytest.mark.parametrize("extra_blocks", [0, 3], ids=["same-height", "longer"])
def test_reorg_leaves_the_index_equal_to_a_fresh_index(
    own_anvil: AnvilSupervisor,
    make_context: Callable[[str], PlatformContext],
    deploy_probe: Callable[[Web3], Any],
    extra_blocks: int,
) -> None:
    rpc = own_anvil.config.rpc_url
    w3 = make_web3(rpc)
    owner, alice, bob, carol = w3.eth.accounts[:4]
    probe = deploy_probe(w3)
    for amount in (100, 200, 300):
        send(w3, probe.functions.mint(alice, amount), owner)
    context = make_context(rpc)
    indexer = ChainIndexer(context, book_for(probe), batch_size=3)
    assert indexer.sync().indexed == w3.eth.block_number + 1

    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    ancestor = w3.eth.block_number
    orphaned = [send(w3, probe.functions.transfer(bob, n), alice) for n in (1, 2, 3)]
    orphaned.append(send(w3, probe.functions.transfer(bob, 10**6), alice))  # reverts
    assert indexer.sync().indexed == 4
    orphaned_blocks = {b.hash for b in _blocks_above(context, ancestor)}
    with context.unit_of_work() as session:
        assert repository.transaction(session, orphaned[0]) is not None

    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
    replacements = [
        send(w3, probe.functions.transfer(carol, n), alice) for n in range(5, 9 + extra_blocks)
    ]
    assert w3.eth.block_number == ancestor + 4 + extra_blocks
    report = indexer.sync()

    assert report.reorgs == 1
    assert report.deleted == 4
    with context.unit_of_work() as session:
        for tx_hash in orphaned:
            assert repository.transaction(session, tx_hash) is None
        for tx_hash in replacements:
            assert repository.transaction(session, tx_hash) is not None
        cursor = session.get(IndexerCursor, repository.CURSOR_NAME)
        assert cursor is not None and cursor.reorgs == 1
        assert cursor.block_number == w3.eth.block_number
    assert not orphaned_blocks & {b.hash for b in _blocks_above(context, ancestor)}

    fresh = make_context(rpc)
    ChainIndexer(fresh, book_for(probe)).sync()
    assert dump(context) == dump(fresh)


def _blocks_above(context: PlatformContext, number: int) -> list[IndexedBlock]:
    with context.unit_of_work() as session:
        stmt = select(IndexedBlock).where(IndexedBlock.number > number)
        return list(session.scalars(stmt))


def test_reorg_to_a_shorter_chain_rolls_back_to_the_ancestor(
    own_anvil: AnvilSupervisor,
    make_context: Callable[[str], PlatformContext],
    deploy_probe: Callable[[Web3], Any],
) -> None:
    w3 = make_web3(own_anvil.config.rpc_url)
    owner, alice = w3.eth.accounts[:2]
    probe = deploy_probe(w3)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    ancestor = w3.eth.block_number
    for amount in (1, 2, 3):
        send(w3, probe.functions.mint(alice, amount), owner)
    context = make_context(own_anvil.config.rpc_url)
    indexer = ChainIndexer(context, book_for(probe))
    indexer.sync()
    w3.provider.make_request("evm_revert", [snapshot])

    report = indexer.sync()

    assert report.reorgs == 1 and report.indexed == 0
    with context.unit_of_work() as session:
        tip = repository.tip(session)
        assert tip is not None and tip.number == ancestor
        assert not list(session.scalars(select(TokenTransfer)))


def test_indexing_the_same_range_twice_changes_nothing(
    own_anvil: AnvilSupervisor,
    make_context: Callable[[str], PlatformContext],
    deploy_probe: Callable[[Web3], Any],
) -> None:
    w3 = make_web3(own_anvil.config.rpc_url)
    owner, alice, bob = w3.eth.accounts[:3]
    probe = deploy_probe(w3)
    send(w3, probe.functions.mint(alice, 50), owner)
    send(w3, probe.functions.transfer(bob, 20), alice)
    send(w3, probe.functions.transfer(bob, 999), alice)  # reverts
    context = make_context(own_anvil.config.rpc_url)
    indexer = ChainIndexer(context, book_for(probe))
    indexer.sync()
    before = dump(context)
    assert len(before["explorer_token_transfers"]) == 2

    stored = indexer.index_range(0, w3.eth.block_number)
    again = indexer.sync()

    assert stored == w3.eth.block_number + 1
    assert again.indexed == 0 and again.reorgs == 0
    assert dump(context) == before


def test_index_range_never_stores_past_the_tip(
    own_anvil: AnvilSupervisor, make_context: Callable[[str], PlatformContext]
) -> None:
    w3 = make_web3(own_anvil.config.rpc_url)
    w3.provider.make_request("anvil_mine", [4])
    context = make_context(own_anvil.config.rpc_url)
    indexer = ChainIndexer(context, confirmations=2)
    indexer.sync()

    assert indexer.index_range(1, 4) == 2
    assert indexer.index_range(3, 4) == 0
    with context.unit_of_work() as session:
        tip = repository.tip(session)
        assert tip is not None and tip.number == 2


def test_confirmations_hold_back_the_newest_blocks(
    own_anvil: AnvilSupervisor,
    make_context: Callable[[str], PlatformContext],
) -> None:
    w3 = make_web3(own_anvil.config.rpc_url)
    w3.provider.make_request("anvil_mine", [5])
    context = make_context(own_anvil.config.rpc_url)

    ChainIndexer(context, confirmations=2).sync()

    with context.unit_of_work() as session:
        tip = repository.tip(session)
        assert tip is not None and tip.number == w3.eth.block_number - 2


def test_index_of_another_chain_is_refused(
    own_anvil: AnvilSupervisor, make_context: Callable[[str], PlatformContext]
) -> None:
    context = make_context(own_anvil.config.rpc_url)
    ChainIndexer(context).sync()
    with context.unit_of_work() as session:
        cursor = repository.get_cursor(session)
        assert cursor is not None
        cursor.chain_id = 1

    with pytest.raises(ConfigurationError):
        ChainIndexer(context).sync()


def test_calls_events_and_revert_reasons_are_decoded(
    own_anvil: AnvilSupervisor,
    make_context: Callable[[str], PlatformContext],
    deploy_probe: Callable[[Web3], Any],
) -> None:
    w3 = make_web3(own_anvil.config.rpc_url)
    owner, alice, bob = w3.eth.accounts[:3]
    probe = deploy_probe(w3)
    stranger = deploy_probe(w3)  # same code, not in the book
    minted = send(w3, probe.functions.mint(alice, 70), owner)
    noted = send(w3, probe.functions.note("부산", [1, 2**200]), owner)
    custom = send(w3, probe.functions.transfer(bob, 71), alice)
    message = send(w3, probe.functions.fail("not today"), owner)
    panic = send(w3, probe.functions.divide(1, 0), owner)
    unknown = send(w3, stranger.functions.mint(alice, 5), owner)
    context = make_context(own_anvil.config.rpc_url)

    ChainIndexer(context, book_for(probe)).sync()

    with context.unit_of_work() as session:
        tx = repository.transaction(session, minted)
        assert tx is not None and tx.status == 1 and tx.function_name == "mint"
        assert json.loads(tx.function_args or "") == [
            {"name": "to", "type": "address", "value": alice},
            {"name": "amount", "type": "uint256", "value": "70"},
        ]
        (event,) = repository.transaction_logs(session, minted)
        assert event.event_name == "Transfer"
        assert [a["value"] for a in json.loads(event.event_args or "")] == [
            "0x" + "0" * 40,
            alice,
            "70",
        ]
        (note,) = repository.transaction_logs(session, noted)
        assert json.loads(note.event_args or "")[0]["value"] == "부산"
        assert json.loads(note.event_args or "")[1]["value"] == ["1", str(2**200)]
        reasons = {
            h: (t.status, t.revert_reason)
            for h in (custom, message, panic)
            if (t := repository.transaction(session, h))
        }
        expected = f"InsufficientBalance(account={alice}, balance=70, needed=71)"
        assert reasons[custom] == (0, expected)
        assert reasons[message] == (0, "not today")
        assert reasons[panic] == (0, "Panic(0x12): division or modulo by zero")
        other = repository.transaction(session, unknown)
        assert other is not None and other.function_name is None
        assert all(log.event_name is None for log in repository.transaction_logs(session, unknown))
        transfers = list(session.scalars(select(TokenTransfer)))
        assert [(t.to_address, t.amount) for t in transfers] == [(alice, "70")]


def test_a_contract_learned_later_is_decoded_afterwards(
    own_anvil: AnvilSupervisor,
    make_context: Callable[[str], PlatformContext],
    deploy_probe: Callable[[Web3], Any],
) -> None:
    w3 = make_web3(own_anvil.config.rpc_url)
    owner, alice = w3.eth.accounts[:2]
    probe = deploy_probe(w3)
    minted = send(w3, probe.functions.mint(alice, 9), owner)
    context = make_context(own_anvil.config.rpc_url)
    indexer = ChainIndexer(context)
    indexer.sync()
    with context.unit_of_work() as session:
        tx = repository.transaction(session, minted)
        assert tx is not None and tx.function_name is None
        assert repository.count_address_transfers(session, alice) == 0

    assert indexer.apply_book(book_for(probe)) == 2

    with context.unit_of_work() as session:
        tx = repository.transaction(session, minted)
        assert tx is not None and tx.function_name == "mint"
        assert repository.count_address_transfers(session, alice) == 1


def test_blocks_that_do_not_link_to_the_index_are_not_stored(
    own_anvil: AnvilSupervisor, make_context: Callable[[str], PlatformContext]
) -> None:
    w3 = make_web3(own_anvil.config.rpc_url)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    w3.provider.make_request("anvil_mine", [4])
    context = make_context(own_anvil.config.rpc_url)
    indexer = ChainIndexer(context)
    indexer.sync()
    before = dump(context)
    w3.provider.make_request("evm_revert", [snapshot])
    w3.provider.make_request("evm_mine", [w3.eth.get_block("latest")["timestamp"] + 100])
    w3.provider.make_request("anvil_mine", [5])

    assert indexer.index_range(2, 4) == 0
    assert dump(context) == before
    assert indexer.sync().reorgs == 1
    with context.unit_of_work() as session:
        tip = repository.tip(session)
        assert tip is not None and tip.number == 6
        assert tip.hash == w3.eth.get_block(6)["hash"].to_0x_hex()


class ReorgingSource(BlockSource):
    """The real node, plus a real reorg injected just before the next block fetch."""

    def __init__(self, rpc_url: str) -> None:
        super().__init__(rpc_url)
        self.before_fetch: Callable[[], None] | None = None

    def blocks(self, numbers: Sequence[int]) -> list[RpcBlock | None]:
        if self.before_fetch is not None:
            inject, self.before_fetch = self.before_fetch, None
            inject()
        return super().blocks(numbers)


def test_a_reorg_between_tip_check_and_fetch_stores_nothing_unlinked(
    own_anvil: AnvilSupervisor, make_context: Callable[[str], PlatformContext]
) -> None:
    rpc = own_anvil.config.rpc_url
    w3 = make_web3(rpc)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    w3.provider.make_request("anvil_mine", [4])
    source = ReorgingSource(rpc)
    context = make_context(rpc)
    indexer = ChainIndexer(context, source=source)
    indexer.sync()
    w3.provider.make_request("anvil_mine", [1])

    def reorg() -> None:
        w3.provider.make_request("evm_revert", [snapshot])
        w3.provider.make_request("evm_mine", [w3.eth.get_block("latest")["timestamp"] + 100])
        w3.provider.make_request("anvil_mine", [8])

    source.before_fetch = reorg
    interrupted = indexer.step()

    assert interrupted.indexed == 0
    assert indexer.sync().reorgs == 1
    fresh = make_context(rpc)
    ChainIndexer(fresh).sync()
    assert dump(context) == dump(fresh)
