"""The platform's operator key: deployer, issuer and gas-paying relayer."""

from __future__ import annotations

from busanchain.chain.signing import Signer, signer_from_key
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from busanchain.domain.errors import ConfigurationError


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
