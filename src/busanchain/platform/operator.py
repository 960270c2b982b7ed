"""The platform's operator key: deployer, issuer and gas-paying relayer."""

from __future__ import annotations

from collections.abc import Callable

from busanchain.chain.signing import Signer, signer_from_key
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from busanchain.domain.errors import ConfigurationError
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext


def operator_signer(settings: Settings) -> Signer:
    """The operator signer; on the embedded node it defaults to anvil's first dev account."""
    if settings.operator_key:
        return signer_from_key(settings.operator_key)
    if settings.external_chain:
        raise ConfigurationError(
            "BUSANCHAIN_OPERATOR_KEY must be set to use an external chain.",
            "외부 체인을 사용하려면 BUSANCHAIN_OPERATOR_KEY를 설정해야 합니다.",
        )
    return signer_from_key(ANVIL_DEFAULT_OPERATOR_KEY)


def signer_lookup(context: PlatformContext, operator: Signer) -> Callable[[str], Signer | None]:
    """Who can re-sign a transaction from `address`: the operator, or a custodial key.

    The outbox reconciler replaces stuck transactions with higher fees; the platform sends
    from the operator (deployments, grants, relayed payments) and from custodial accounts
    (merchants' refunds and redemptions), so both must be found. Self-custody wallets sign in
    the user's own wallet and are never re-signed here (None).
    """

    def lookup(address: str) -> Signer | None:
        if address.lower() == operator.address.lower():
            return operator
        return key_service_for(context).signer_for_address(address)

    return lookup
