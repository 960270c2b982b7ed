"""Property test: any sequence of mints, transfers and redemptions conserves money.

After every step the on-chain balances equal a Python model, and the total supply equals
minted minus redeemed; operations the model says must fail (overdrafts) fail on chain too.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from busanchain.chain.artifacts import load_artifact
from tests.contracts.conftest import Chain, random_nonce

HOLDERS = 3

# (kind, actor, counterparty, amount): mint credits `actor`; transfer sends from `actor` to
# `counterparty`; redeem burns `actor`'s tokens.
operation = st.tuples(
    st.sampled_from(["mint", "transfer", "redeem"]),
    st.integers(0, HOLDERS - 1),
    st.integers(0, HOLDERS - 1),
    st.integers(1, 10_000),
)
Operation = tuple[str, int, int, int]


def _deploy(chain: Chain, admin: LocalAccount) -> Contract:
    artifact = load_artifact("DigitalWon")
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(admin.address).build_transaction(
        {"from": admin.address, "nonce": chain.w3.eth.get_transaction_count(admin.address)}
    )
    receipt = chain.w3.eth.wait_for_transaction_receipt(
        chain.w3.eth.send_raw_transaction(admin.sign_transaction(tx).raw_transaction)
    )
    return chain.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def _apply(
    chain: Chain,
    token: Contract,
    admin: LocalAccount,
    holders: list[LocalAccount],
    op: Operation,
    model: list[int],
) -> None:
    kind, actor, counterparty, amount = op
    if kind == "mint":
        chain.send(token.functions.mint(holders[actor].address, amount, random_nonce()), admin)
        model[actor] += amount
        return
    if kind == "transfer":
        fn = token.functions.transfer(holders[counterparty].address, amount)
    else:
        fn = token.functions.redeem(amount, random_nonce())
    if amount > model[actor]:
        try:
            fn.call({"from": holders[actor].address})
        except ContractCustomError:
            return
        raise AssertionError("an overdraft was accepted")
    chain.send(fn, holders[actor])
    model[actor] -= amount
    if kind == "transfer":
        model[counterparty] += amount


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operation, min_size=1, max_size=8))
def test_balances_follow_the_model_and_supply_is_conserved(
    chain: Chain, ops: list[Operation]
) -> None:
    admin: LocalAccount = Account.create()
    holders: list[LocalAccount] = [Account.create() for _ in range(HOLDERS)]
    for account in [admin, *holders]:
        chain.fund(account.address)
    token = _deploy(chain, admin)
    model = [0] * HOLDERS
    for op in ops:
        _apply(chain, token, admin, holders, op, model)
        balances = [token.functions.balanceOf(h.address).call() for h in holders]
        assert balances == model
        assert token.functions.totalSupply().call() == sum(model)
