"""One-shot operations for the CLI: info, deploy and key rotation, without a running server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from busanchain.chain.client import ChainClient
from busanchain.config import Settings
from busanchain.db.migrate import upgrade
from busanchain.deployment.service import DeploymentService
from busanchain.keys.kek import kek_from_file
from busanchain.keys.service import key_service_for
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.platform.runtime import RuntimeInfo, with_default_secrets


def platform_info(settings: Settings) -> RuntimeInfo:
    """Web URL, RPC URL, chain id, head block and deployed contracts, read live."""
    context = PlatformContext.create(settings)
    try:
        upgrade(context.engine)
        client = ChainClient(settings.node_rpc_url)
        chain_id = client.chain_id()
        contracts = DeploymentService(context, OutboxService(context, client)).addresses(chain_id)
        return RuntimeInfo(
            web_url=settings.web_url,
            rpc_url=settings.node_rpc_url,
            chain_id=chain_id,
            block_number=client.block_number(),
            contracts=contracts,
        )
    finally:
        context.close()


def deploy_contracts(settings: Settings) -> dict[str, str]:
    """Deploy every contract once per chain id; a second run changes nothing."""
    context = PlatformContext.create(settings)
    try:
        upgrade(context.engine)
        service = DeploymentService(context, OutboxService(context))
        return service.deploy_all(operator_signer(settings))
    finally:
        context.close()


def rotate_keys(
    settings: Settings, new_kek_file: Path, progress: Callable[[int, int], None] | None = None
) -> int:
    """Re-encrypt every sealed row under the KEK in `new_kek_file`."""
    context = PlatformContext.create(with_default_secrets(settings))
    try:
        upgrade(context.engine)
        count = key_service_for(context).rotate(kek_from_file(new_kek_file))
        if progress is not None:
            progress(count, count)
        return count
    finally:
        context.close()
