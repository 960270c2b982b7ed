"""Chain and platform status."""

from __future__ import annotations

from dataclasses import dataclass

from busanchain.chain.rpc import raw_call
from busanchain.domain.errors import ChainError
from busanchain.platform.context import PlatformContext


@dataclass(frozen=True)
class ChainStatus:
    """What the chain looks like right now."""

    rpc_url: str
    chain_id: int
    block_number: int | None
    reachable: bool


def chain_status(context: PlatformContext) -> ChainStatus:
    """Ask the node for its chain id and head; never raises."""
    url = context.settings.node_rpc_url
    try:
        block = int(raw_call(url, "eth_blockNumber", [], timeout_s=3), 16)
        chain_id = int(raw_call(url, "eth_chainId", [], timeout_s=3), 16)
    except ChainError:
        return ChainStatus(url, context.settings.chain_id, None, False)
    return ChainStatus(url, chain_id, block, True)
