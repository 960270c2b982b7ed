"""Idempotent deployment against a real anvil node and a real database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import keccak
from sqlalchemy import func, select

from busanchain.chain.artifacts import load_artifact, runtime_code_hash
from busanchain.chain.signing import signer_from_key
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from busanchain.db.schema import create_schema
from busanchain.deployment.repository import DeploymentRepository
from busanchain.deployment.service import DEFAULT_PLANS, DeploymentService
from busanchain.deployment.tables import ContractDeployment
from busanchain.domain.errors import ConfigurationError, EvmVersionUnsupported
from busanchain.outbox.service import OutboxService
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from tests.chain.hardfork_node import anvil_on_hardfork

OPERATOR = signer_from_key(ANVIL_DEFAULT_OPERATOR_KEY)


@pytest.fixture
def service(context: PlatformContext) -> DeploymentService:
    return DeploymentService(context, OutboxService(context))


def _code(service: DeploymentService, address: str) -> bytes:
    return bytes.fromhex(service.outbox.client.request("eth_getCode", [address, "latest"])[2:])


def _set_code(service: DeploymentService, address: str, code: bytes) -> None:
    service.outbox.client.request("anvil_setCode", [address, "0x" + code.hex()])


def _call(service: DeploymentService, address: str, signature: str, args: bytes = b"") -> bytes:
    data = keccak(text=signature)[:4] + args
    return service.outbox.client.call({"to": address, "data": "0x" + data.hex()})


def _outbox_count(context: PlatformContext) -> int:
    with context.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxEntry)) or 0)


def _record(context: PlatformContext, name: str = "DigitalWon") -> ContractDeployment:
    with context.unit_of_work() as session:
        record = DeploymentRepository(session).get(31337, name)
        assert record is not None
        return record


def test_deploy_records_address_and_on_chain_code_hash(
    context: PlatformContext, service: DeploymentService
) -> None:
    addresses = service.deploy_all(OPERATOR)
    address = addresses["DigitalWon"]
    code = _code(service, address)
    record = _record(context)
    assert record.address == address
    assert record.code_hash == runtime_code_hash(code)
    assert record.code_hash != load_artifact("DigitalWon").code_hash  # immutables filled in
    assert record.source_hash == load_artifact("DigitalWon").source_hash
    assert record.tx_hash.startswith("0x") and record.block_number > 0
    assert service.addresses(31337) == addresses
    assert set(addresses) == {
        "DigitalWon",
        "MerchantRegistry",
        "PolicyVoucher",
        "PhotoNFT",
        "Gallery",
    }
    # The operator holds the issuer role, and decimals are 0.
    issuer_role = keccak(text="ISSUER_ROLE")
    has_role = _call(
        service,
        address,
        "hasRole(bytes32,address)",
        issuer_role + bytes(12) + bytes.fromhex(OPERATOR.address[2:]),
    )
    assert int.from_bytes(has_role, "big") == 1
    assert int.from_bytes(_call(service, address, "decimals()"), "big") == 0


def test_second_run_does_nothing(context: PlatformContext, service: DeploymentService) -> None:
    first = service.deploy_all(OPERATOR)
    sent = _outbox_count(context)
    nonce = service.outbox.client.nonce(OPERATOR.address)
    again = DeploymentService(context, OutboxService(context)).deploy_all(OPERATOR)
    assert again == first
    assert _outbox_count(context) == sent
    assert service.outbox.client.nonce(OPERATOR.address) == nonce


def test_addresses_of_unknown_chain_are_empty(service: DeploymentService) -> None:
    service.deploy_all(OPERATOR)
    assert service.addresses(1) == {}


def test_wiped_contract_is_redeployed(
    context: PlatformContext, service: DeploymentService, caplog: pytest.LogCaptureFixture
) -> None:
    old = service.deploy_all(OPERATOR)["DigitalWon"]
    _set_code(service, old, b"")  # the chain lost the contract
    with caplog.at_level(logging.WARNING, logger="busanchain.deployment.service"):
        new = service.deploy_all(OPERATOR)["DigitalWon"]
    assert new != old
    assert "has no code" in caplog.text
    record = _record(context)
    assert record.address == new
    assert record.code_hash == runtime_code_hash(_code(service, new))
    with context.unit_of_work() as session:
        assert len(DeploymentRepository(session).on_chain(31337)) == len(DEFAULT_PLANS)


def test_voucher_points_at_the_token_and_registry(service: DeploymentService) -> None:
    addresses = service.deploy_all(OPERATOR)
    voucher = addresses["PolicyVoucher"]
    token = _call(service, voucher, "token()")[-20:]
    registry = _call(service, voucher, "registry()")[-20:]
    treasury = _call(service, voucher, "treasury()")[-20:]
    assert "0x" + token.hex() == addresses["DigitalWon"].lower()
    assert "0x" + registry.hex() == addresses["MerchantRegistry"].lower()
    assert "0x" + treasury.hex() == OPERATOR.address.lower()


def test_a_redeployed_token_redeploys_the_voucher(
    service: DeploymentService, caplog: pytest.LogCaptureFixture
) -> None:
    old = service.deploy_all(OPERATOR)
    _set_code(service, old["DigitalWon"], b"")
    with caplog.at_level(logging.WARNING, logger="busanchain.deployment.service"):
        new = service.deploy_all(OPERATOR)
    assert new["MerchantRegistry"] == old["MerchantRegistry"]
    assert new["PolicyVoucher"] != old["PolicyVoucher"]
    assert "DigitalWon, which was just redeployed" in caplog.text
    token = _call(service, new["PolicyVoucher"], "token()")[-20:]
    assert "0x" + token.hex() == new["DigitalWon"].lower()


def test_replaced_code_is_redeployed(
    service: DeploymentService, caplog: pytest.LogCaptureFixture
) -> None:
    old = service.deploy_all(OPERATOR)["DigitalWon"]
    _set_code(service, old, bytes.fromhex("600160005260206000f3"))
    with caplog.at_level(logging.WARNING, logger="busanchain.deployment.service"):
        new = service.deploy_all(OPERATOR)["DigitalWon"]
    assert new != old
    assert "not the recorded" in caplog.text


def test_changed_sources_keep_the_live_contract(
    context: PlatformContext, service: DeploymentService, caplog: pytest.LogCaptureFixture
) -> None:
    address = service.deploy_all(OPERATOR)["DigitalWon"]
    with context.unit_of_work() as session:
        record = DeploymentRepository(session).get(31337, "DigitalWon")
        assert record is not None
        record.source_hash = "0" * 64
    with caplog.at_level(logging.WARNING, logger="busanchain.deployment.service"):
        assert service.deploy_all(OPERATOR)["DigitalWon"] == address
    assert "older sources" in caplog.text


def test_wrong_chain_id_is_refused(settings: Settings) -> None:
    ctx = PlatformContext.create(settings.with_overrides(chain_id=8217))
    create_schema(ctx.engine)
    try:
        service = DeploymentService(ctx, OutboxService(ctx))
        with pytest.raises(ConfigurationError):
            service.deploy_all(OPERATOR)
        assert service.addresses(31337) == {}
    finally:
        ctx.close()


@pytest.fixture
def shanghai_context(
    settings: Settings, anvil_binary: Path, tmp_path: Path
) -> Iterator[PlatformContext]:
    with anvil_on_hardfork(anvil_binary, "shanghai", tmp_path / "anvil.log") as url:
        ctx = PlatformContext.create(settings.with_overrides(rpc_url=url))
        create_schema(ctx.engine)
        yield ctx
        ctx.close()


def test_pre_cancun_chain_is_refused_before_any_transaction(
    shanghai_context: PlatformContext,
) -> None:
    service = DeploymentService(shanghai_context, OutboxService(shanghai_context))
    with pytest.raises(EvmVersionUnsupported) as caught:
        service.deploy_all(OPERATOR)
    assert "MCOPY" in caught.value.message_en
    assert service.outbox.client.nonce(OPERATOR.address) == 0
    assert _outbox_count(shanghai_context) == 0
    assert service.addresses(31337) == {}


def test_gallery_points_at_the_token_and_the_photo_nft(service: DeploymentService) -> None:
    addresses = service.deploy_all(OPERATOR)
    gallery = addresses["Gallery"]
    assert "0x" + _call(service, gallery, "token()")[-20:].hex() == addresses["DigitalWon"].lower()
    assert "0x" + _call(service, gallery, "nft()")[-20:].hex() == addresses["PhotoNFT"].lower()


ESCROW_ROLE = keccak(text="ESCROW_ROLE")


def _gallery_is_escrow(service: DeploymentService, addresses: dict[str, str]) -> bool:
    return service.has_role(addresses["PhotoNFT"], ESCROW_ROLE, addresses["Gallery"])


def test_fresh_deployment_wires_the_gallery_as_photo_escrow(service: DeploymentService) -> None:
    addresses = service.deploy_all(OPERATOR)
    assert _gallery_is_escrow(service, addresses)
    assert not service.has_role(addresses["PhotoNFT"], ESCROW_ROLE, OPERATOR.address)


def test_wired_contracts_send_nothing_on_a_rerun(
    context: PlatformContext, service: DeploymentService
) -> None:
    service.deploy_all(OPERATOR)
    sent, nonce = _outbox_count(context), service.outbox.client.nonce(OPERATOR.address)
    addresses = DeploymentService(context, OutboxService(context)).deploy_all(OPERATOR)
    assert _gallery_is_escrow(service, addresses)
    assert _outbox_count(context) == sent
    assert service.outbox.client.nonce(OPERATOR.address) == nonce


def test_a_redeployed_gallery_is_wired_again(
    context: PlatformContext, service: DeploymentService
) -> None:
    old = service.deploy_all(OPERATOR)
    _set_code(service, old["Gallery"], b"")
    sent = _outbox_count(context)
    new = service.deploy_all(OPERATOR)
    assert new["Gallery"] != old["Gallery"] and new["PhotoNFT"] == old["PhotoNFT"]
    assert _gallery_is_escrow(service, new)
    assert _outbox_count(context) == sent + 2  # the deployment and one grantRole


def test_a_redeployed_photo_nft_is_wired_to_the_new_gallery(service: DeploymentService) -> None:
    old = service.deploy_all(OPERATOR)
    _set_code(service, old["PhotoNFT"], b"")
    new = service.deploy_all(OPERATOR)
    assert new["PhotoNFT"] != old["PhotoNFT"] and new["Gallery"] != old["Gallery"]
    assert _gallery_is_escrow(service, new)


def test_a_revoked_escrow_role_is_granted_again(
    context: PlatformContext, service: DeploymentService
) -> None:
    addresses = service.deploy_all(OPERATOR)
    revoke = keccak(text="revokeRole(bytes32,address)")[:4] + ESCROW_ROLE
    revoke += bytes(12) + bytes.fromhex(addresses["Gallery"][2:])
    service.outbox.execute(
        signer=OPERATOR, intent="test:revoke", to=addresses["PhotoNFT"], data=revoke
    )
    assert not _gallery_is_escrow(service, addresses)
    sent = _outbox_count(context)
    assert service.deploy_all(OPERATOR) == addresses
    assert _gallery_is_escrow(service, addresses)
    assert _outbox_count(context) == sent + 1
