"""The hand-written EIP-712 and Merkle code agrees with PolicyVoucher on a real node."""

from __future__ import annotations

import secrets

import pytest
from eth_account import Account

from busanchain.chain.signing import Signer
from busanchain.deployment.service import DeploymentService
from busanchain.outbox.service import OutboxService, raise_for_outcome
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.vouchers.contracts import VoucherChain
from busanchain.vouchers.eip712 import PaymentMessage, domain_separator, sign_payment
from busanchain.vouchers.merkle import MerkleTree, grants_tree, leaf_hash, verify
from busanchain.vouchers.reasons import REASON_TEXT, Reason, reason_text


@pytest.fixture
def chain(context: PlatformContext) -> VoucherChain:
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    return VoucherChain(context)


def _execute(chain: VoucherChain, data: bytes, to: str) -> None:
    operator = operator_signer(chain.context.settings)
    outcome = chain.outbox.execute(
        signer=operator, intent="test", to=to, data=data, reference=None, timeout_s=30
    )
    raise_for_outcome(outcome)


def test_payment_digest_matches_the_contract(chain: VoucherChain) -> None:
    payer = Signer(Account.create())
    message = PaymentMessage(
        payer=payer.address,
        program_id=7,
        merchant=Account.create().address,
        amount=12_345,
        order_ref=secrets.token_bytes(32),
        nonce=3,
        deadline=2**40,
    )
    separator = domain_separator(chain.outbox.client.chain_id(), chain.addresses["PolicyVoucher"])
    signature = sign_payment(payer, message, separator)
    on_chain = chain.read_one(chain.voucher, "paymentDigest", [message.as_tuple(signature)])
    assert on_chain == message.digest(separator)
    assert len(signature) == 65
    with pytest.raises(ValueError):
        sign_payment(Signer(Account.create()), message, separator)


def test_a_merkle_grant_is_claimable_on_chain(chain: VoucherChain) -> None:
    operator = operator_signer(chain.context.settings)
    voucher = chain.addresses["PolicyVoucher"]
    token = chain.addresses["DigitalWon"]
    grants = [(Account.create().address, 1_000 + i) for i in range(5)]
    total = sum(a for _, a in grants)
    tree = grants_tree(grants, round_id=1)
    now = chain.chain_time()
    _execute(
        chain, chain.calldata(chain.token, "mint", [operator.address, total, b"\x01" * 32]), token
    )
    _execute(chain, chain.calldata(chain.token, "approve", [voucher, total]), token)
    params = (total, 0, 0, 0, now, now + 86_400, [], [], [])
    _execute(chain, chain.calldata(chain.voucher, "createProgram", [1, params]), voucher)
    post = chain.calldata(chain.voucher, "postRound", [1, 1, tree.root, total])
    _execute(chain, post, voucher)
    for index in (0, 3, 4):
        address, amount = grants[index]
        proof = tree.proof(index)
        assert verify(proof, tree.root, leaf_hash(address, amount, 1))
        _execute(
            chain, chain.calldata(chain.voucher, "claim", [1, 1, address, amount, proof]), voucher
        )
        assert chain.voucher_balance(address, 1) == amount
    locked, unspent, unclaimed, unallocated = chain.conservation(1)
    assert locked == total
    assert unspent == sum(grants[i][1] for i in (0, 3, 4))
    assert unclaimed == total - unspent
    assert unallocated == 0


def test_tree_round_trips_and_rejects_a_wrong_proof() -> None:
    grants = [(Account.create().address, 10) for _ in range(7)]
    tree = grants_tree(grants, 2)
    assert MerkleTree.from_bytes(tree.to_bytes()) == tree
    assert tree.size == 7
    assert not verify(tree.proof(1), tree.root, leaf_hash(grants[2][0], 10, 2))
    assert not verify(tree.proof(1), tree.root, leaf_hash(grants[1][0], 11, 2))
    with pytest.raises(IndexError):
        tree.proof(7)


def test_every_reason_has_both_languages() -> None:
    assert set(REASON_TEXT) == set(Reason)
    assert reason_text(16) == "잔액이 부족합니다"
    assert reason_text(16, "en") == "Not enough balance"
