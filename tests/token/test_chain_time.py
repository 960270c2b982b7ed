"""Authorization windows follow the chain's clock, not the server's."""

from __future__ import annotations

from pathlib import Path

from busanchain.accounts.service import account_service_for
from busanchain.chain.client import ChainClient
from busanchain.config import Settings
from busanchain.db.schema import create_schema
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.outbox.service import OutboxService, raise_for_outcome
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.token.service import TokenService
from tests.conftest import start_anvil
from tests.crash.helpers import erc20_balance


def test_transfer_works_when_chain_clock_is_ahead(
    settings: Settings, tmp_path: Path, anvil_binary: Path
) -> None:
    node = start_anvil(tmp_path / "node", anvil_binary)
    context = PlatformContext.create(settings.with_overrides(rpc_url=node.config.rpc_url))
    try:
        create_schema(context.engine)
        operator = operator_signer(context.settings)
        DeploymentService(context, OutboxService(context)).deploy_all(operator)
        accounts = account_service_for(context)
        payer_id = accounts.create_user("clockpayer", "correct horse battery", [Role.CITIZEN]).id
        keys = key_service_for(context)
        payer = keys.signer_for_user(payer_id)
        token = TokenService(context)
        with context.unit_of_work() as session:
            entry = token.enqueue_issue(
                session, issuer=operator, to=payer.address, amount=50, deposit_ref="c", owner=None
            )
        token.outbox.broadcast(entry.id)
        raise_for_outcome(token.outbox.wait(entry.id))

        client = ChainClient(node.config.rpc_url)
        client.request("evm_increaseTime", [3 * 24 * 3600])  # the chain runs 3 days ahead
        client.request("evm_mine", [])
        payee = operator.address
        with context.unit_of_work() as session:
            entry = token.enqueue_transfer(
                session, relayer=operator, payer=payer, to=payee, amount=20, owner=None
            )
        token.outbox.broadcast(entry.id)
        raise_for_outcome(token.outbox.wait(entry.id))
        assert erc20_balance(client, token.contract().address, payer.address) == 30
    finally:
        context.close()
        node.stop(snapshot=False)
