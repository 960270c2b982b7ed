"""The background indexer loop: follows the chain, survives errors, stops on request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from busanchain.chain.node import AnvilSupervisor
from busanchain.chain.rpc import make_web3
from busanchain.explorer import repository
from busanchain.explorer.decoder import ContractBook
from busanchain.explorer.runner import run_indexer
from busanchain.platform.context import PlatformContext
from tests.conftest import free_port

pytestmark = pytest.mark.chain


def _empty_book(_: PlatformContext) -> ContractBook:
    return ContractBook({})


def _tip(context: PlatformContext) -> int | None:
    with context.unit_of_work() as session:
        tip = repository.tip(session)
        return tip.number if tip else None


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_runner_follows_the_chain_and_stops(
    own_anvil: AnvilSupervisor, make_context: Callable[[str], PlatformContext]
) -> None:
    context = make_context(own_anvil.config.rpc_url)
    w3 = make_web3(own_anvil.config.rpc_url)
    stop = threading.Event()
    thread = threading.Thread(target=run_indexer, args=(context, stop, 0.05, _empty_book))
    thread.start()
    try:
        w3.provider.make_request("anvil_mine", [3])
        assert _wait_for(lambda: _tip(context) == 3)
        w3.provider.make_request("anvil_mine", [2])
        assert _wait_for(lambda: _tip(context) == 5)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_runner_survives_an_unreachable_node(
    make_context: Callable[[str], PlatformContext],
) -> None:
    context = make_context(f"http://127.0.0.1:{free_port()}")
    stop = threading.Event()
    thread = threading.Thread(target=run_indexer, args=(context, stop, 0.05, _empty_book))
    thread.start()
    time.sleep(0.3)
    alive = thread.is_alive()
    stop.set()
    thread.join(timeout=5)

    assert alive and not thread.is_alive()
    assert _tip(context) is None
