"""Fixtures for contract behaviour tests: a fresh DigitalWon per test on the session's anvil."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError

from busanchain.chain.artifacts import load_artifact
from busanchain.chain.node import AnvilSupervisor
from busanchain.chain.rpc import make_web3

ONE_ETHER = 10**18


@dataclass
class Chain:
    """A web3 client plus helpers to fund, send and expect custom-error reverts."""

    w3: Web3

    def fund(self, address: str, wei: int = ONE_ETHER) -> None:
        self.w3.provider.make_request("anvil_setBalance", [address, hex(wei)])  # type: ignore[arg-type]

    def send(self, fn: ContractFunction, sender: LocalAccount) -> dict[str, Any]:
        """Sign and send a contract call from `sender`; return the (successful) receipt."""
        tx = fn.build_transaction(
            {"from": sender.address, "nonce": self.w3.eth.get_transaction_count(sender.address)}
        )
        signed = sender.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))
        assert receipt["status"] == 1, receipt
        return receipt

    def block_time(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def error_selector(contract: Contract, name: str) -> str:
    """The 4-byte selector of a custom error declared in the contract's ABI (or OZ's)."""
    for item in contract.abi:
        if item.get("type") == "error" and item["name"] == name:
            types = ",".join(i["type"] for i in item["inputs"])
            return "0x" + keccak(text=f"{name}({types})")[:4].hex()
    raise AssertionError(f"no error {name} in the ABI")


def expect_revert(contract: Contract, fn: ContractFunction, sender: str, error: str) -> None:
    """Assert that calling `fn` from `sender` reverts with the named custom error."""
    with pytest.raises(ContractCustomError) as caught:
        fn.call({"from": sender})
    data = caught.value.data
    assert isinstance(data, str) and data.startswith(error_selector(contract, error)), (
        f"expected {error}, got {data}"
    )


@pytest.fixture(scope="session")
def chain(anvil: AnvilSupervisor) -> Chain:
    return Chain(make_web3(anvil.config.rpc_url))


@pytest.fixture
def admin(chain: Chain) -> LocalAccount:
    """A fresh, funded admin (issuer and pauser) for each test."""
    account: LocalAccount = Account.create()
    chain.fund(account.address)
    return account


@pytest.fixture
def new_account(chain: Chain) -> Callable[[], LocalAccount]:
    """Make fresh funded accounts."""

    def make() -> LocalAccount:
        account: LocalAccount = Account.create()
        chain.fund(account.address)
        return account

    return make


@pytest.fixture
def token(chain: Chain, admin: LocalAccount) -> Contract:
    """A freshly deployed DigitalWon whose admin is `admin`."""
    artifact = load_artifact("DigitalWon")
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(admin.address).build_transaction(
        {"from": admin.address, "nonce": chain.w3.eth.get_transaction_count(admin.address)}
    )
    signed = admin.sign_transaction(tx)
    receipt = chain.w3.eth.wait_for_transaction_receipt(
        chain.w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30
    )
    assert receipt["status"] == 1
    return chain.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def random_nonce() -> bytes:
    """A random 32-byte EIP-3009 nonce."""
    return os.urandom(32)
