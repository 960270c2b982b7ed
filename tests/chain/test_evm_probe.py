"""The EVM probe against real anvil nodes on different hardforks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from busanchain.chain.evm_probe import EvmSupport, probe_evm, require_cancun
from busanchain.chain.node import AnvilSupervisor
from busanchain.domain.errors import ChainError, EvmVersionUnsupported
from tests.chain.hardfork_node import anvil_on_hardfork
from tests.conftest import free_port


@pytest.fixture(scope="module", params=["shanghai", "paris"])
def old_chain(
    request: pytest.FixtureRequest, anvil_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(hardfork, rpc_url) of an anvil node on a pre-cancun hardfork."""
    hardfork = str(request.param)
    log = tmp_path_factory.mktemp(f"anvil-{hardfork}") / "anvil.log"
    with anvil_on_hardfork(anvil_binary, hardfork, log) as url:
        yield hardfork, url


EXPECTED_SUPPORT = {
    "shanghai": EvmSupport(push0=True, mcopy=False, tstore=False),
    "paris": EvmSupport(push0=False, mcopy=False, tstore=False),
}


def test_cancun_chain_supports_everything(anvil: AnvilSupervisor) -> None:
    support = probe_evm(anvil.config.rpc_url)
    assert support == EvmSupport(push0=True, mcopy=True, tstore=True)
    assert support.cancun and support.missing == []
    assert require_cancun(anvil.config.rpc_url) == support


def test_old_chain_lacks_opcodes(old_chain: tuple[str, str]) -> None:
    hardfork, url = old_chain
    support = probe_evm(url)
    assert support == EXPECTED_SUPPORT[hardfork]
    assert not support.cancun


def test_require_cancun_refuses_old_chain(old_chain: tuple[str, str]) -> None:
    hardfork, url = old_chain
    with pytest.raises(EvmVersionUnsupported) as caught:
        require_cancun(url)
    error = caught.value
    assert "MCOPY" in error.message_en and "TSTORE/TLOAD" in error.message_en
    assert "MCOPY" in error.message_ko and "cancun" in error.message_ko
    assert ("PUSH0" in error.message_en) == (hardfork == "paris")
    assert error.details["missing"] == EXPECTED_SUPPORT[hardfork].missing


def test_unreachable_node_is_a_chain_error_not_a_verdict() -> None:
    with pytest.raises(ChainError):
        probe_evm(f"http://127.0.0.1:{free_port()}")
