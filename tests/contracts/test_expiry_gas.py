"""withdrawExpired costs the same gas for 10, 1,000 and 100,000 holders (O(1) expiry).

Every holder count gets real voucher balances (direct grantBatch in chunks of 1,000: the
100,000 case is 100 transactions, about 10-30 s on anvil) plus as many unclaimed holders under
a Merkle root. The node is this module's own: its clock is moved past expiry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from busanchain.chain.node import AnvilSupervisor
from busanchain.chain.rpc import make_web3
from busanchain.reports.bench import AMOUNT, ExpiryBench
from tests.conftest import start_anvil

COUNTS = [10, 1_000, 100_000]


@pytest.fixture(scope="module")
def gas_node(
    tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path
) -> Iterator[AnvilSupervisor]:
    """A private node (block gas limit 300M): its clock is warped."""
    node = start_anvil(tmp_path_factory.mktemp("expiry-gas-node"), anvil_binary)
    yield node
    node.stop(snapshot=False)


@pytest.mark.slow
def test_expiry_withdrawal_gas_is_constant(gas_node: AnvilSupervisor) -> None:
    w3 = make_web3(gas_node.config.rpc_url)
    bench = ExpiryBench(w3)
    result = bench.measure(COUNTS)
    figures = {r["holders"]: r["gas_used"] for r in result["results"]}
    print("withdrawExpired gasUsed by holders:", figures)
    assert list(figures) == COUNTS
    assert len(set(figures.values())) == 1, figures
    assert result["constant"] is True
    assert 30_000 < figures[10] < 150_000
    for program_id, r in enumerate(result["results"], start=1):
        count = r["holders"]
        assert r["withdrawn"] == 2 * AMOUNT * count + AMOUNT  # granted + unclaimed + unallocated
        assert r["balance_after_expiry"] == 0
        voucher = bench.voucher.functions
        assert voucher.isExpired(program_id).call()
        assert voucher.conservation(program_id).call() == [0, 0, 0, 0]
        assert voucher.balanceOf(r["sample_holder"], program_id).call() == 0
        assert bench.w3.eth.get_code(Web3.to_checksum_address(r["sample_holder"])) == b""
