"""MerchantRegistry on a real anvil node: registrar role, register, update, suspend, reactivate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract
from web3.logs import DISCARD

from busanchain.chain.artifacts import load_artifact
from tests.contracts.conftest import Chain, expect_revert

MakeAccount = Callable[[], LocalAccount]
BIZ_HASH = keccak(text="salted:123-45-67890")
GROCERY = 5411
HAEUNDAE = 26350


def deploy(chain: Chain, name: str, sender: LocalAccount, *args: Any) -> Contract:
    """Deploy the committed artifact `name` with constructor `args` from `sender`."""
    artifact = load_artifact(name)
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(*args).build_transaction(
        {"from": sender.address, "nonce": chain.w3.eth.get_transaction_count(sender.address)}
    )
    tx_hash = chain.w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, receipt
    return chain.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


@pytest.fixture
def registry(chain: Chain, admin: LocalAccount) -> Contract:
    """A fresh MerchantRegistry whose admin and registrar is `admin`."""
    return deploy(chain, "MerchantRegistry", admin, admin.address)


def _register(chain: Chain, registry: Contract, admin: LocalAccount, merchant: str) -> None:
    chain.send(registry.functions.register(merchant, BIZ_HASH, GROCERY, HAEUNDAE), admin)


def test_register_stores_entry_and_emits(
    chain: Chain, registry: Contract, admin: LocalAccount
) -> None:
    merchant = Account.create().address
    receipt = chain.send(registry.functions.register(merchant, BIZ_HASH, GROCERY, HAEUNDAE), admin)
    assert registry.functions.merchantOf(merchant).call() == (BIZ_HASH, GROCERY, HAEUNDAE, True)
    assert registry.functions.isActive(merchant).call()
    assert registry.functions.isRegistered(merchant).call()
    event = registry.events.MerchantRegistered().process_receipt(receipt, errors=DISCARD)[0]
    assert event["args"]["merchant"] == merchant and event["args"]["district"] == HAEUNDAE


def test_unknown_merchant_reads_as_inactive(registry: Contract) -> None:
    stranger = Account.create().address
    assert registry.functions.merchantOf(stranger).call() == (b"\x00" * 32, 0, 0, False)
    assert not registry.functions.isActive(stranger).call()
    assert not registry.functions.isRegistered(stranger).call()


def test_only_registrar_registers(registry: Contract, new_account: MakeAccount) -> None:
    stranger = new_account()
    fn = registry.functions.register(stranger.address, BIZ_HASH, GROCERY, HAEUNDAE)
    expect_revert(registry, fn, stranger.address, "AccessControlUnauthorizedAccount")


@pytest.mark.parametrize(
    ("biz", "mcc", "district", "error"),
    [
        (b"\x00" * 32, GROCERY, HAEUNDAE, "ZeroBusinessNumberHash"),
        (BIZ_HASH, 0, HAEUNDAE, "InvalidCategory"),
        (BIZ_HASH, 10_000, HAEUNDAE, "InvalidCategory"),
        (BIZ_HASH, GROCERY, 11110, "InvalidDistrict"),
    ],
)
def test_register_rejects_bad_fields(
    registry: Contract, admin: LocalAccount, biz: bytes, mcc: int, district: int, error: str
) -> None:
    fn = registry.functions.register(Account.create().address, biz, mcc, district)
    expect_revert(registry, fn, admin.address, error)


def test_register_twice_and_zero_address_rejected(
    chain: Chain, registry: Contract, admin: LocalAccount
) -> None:
    merchant = Account.create().address
    _register(chain, registry, admin, merchant)
    fn = registry.functions.register(merchant, BIZ_HASH, GROCERY, HAEUNDAE)
    expect_revert(registry, fn, admin.address, "AlreadyRegistered")
    fn = registry.functions.register("0x" + "00" * 20, BIZ_HASH, GROCERY, HAEUNDAE)
    expect_revert(registry, fn, admin.address, "ZeroMerchant")


def test_update_changes_details_and_keeps_active(
    chain: Chain, registry: Contract, admin: LocalAccount
) -> None:
    merchant = Account.create().address
    _register(chain, registry, admin, merchant)
    new_hash = keccak(text="salted:other")
    chain.send(registry.functions.update(merchant, new_hash, 5812, 26110), admin)
    assert registry.functions.merchantOf(merchant).call() == (new_hash, 5812, 26110, True)


def test_update_unregistered_rejected(registry: Contract, admin: LocalAccount) -> None:
    fn = registry.functions.update(Account.create().address, BIZ_HASH, GROCERY, HAEUNDAE)
    expect_revert(registry, fn, admin.address, "NotRegistered")


def test_suspend_then_reactivate(chain: Chain, registry: Contract, admin: LocalAccount) -> None:
    merchant = Account.create().address
    _register(chain, registry, admin, merchant)
    chain.send(registry.functions.suspend(merchant), admin)
    assert not registry.functions.isActive(merchant).call()
    assert registry.functions.isRegistered(merchant).call()
    expect_revert(registry, registry.functions.suspend(merchant), admin.address, "AlreadySuspended")
    chain.send(registry.functions.reactivate(merchant), admin)
    assert registry.functions.isActive(merchant).call()
    expect_revert(registry, registry.functions.reactivate(merchant), admin.address, "AlreadyActive")


def test_suspend_needs_registrar_and_registration(
    chain: Chain, registry: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    merchant = Account.create().address
    expect_revert(registry, registry.functions.suspend(merchant), admin.address, "NotRegistered")
    _register(chain, registry, admin, merchant)
    stranger = new_account()
    fn = registry.functions.suspend(merchant)
    expect_revert(registry, fn, stranger.address, "AccessControlUnauthorizedAccount")
