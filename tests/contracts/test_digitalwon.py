"""DigitalWon behaviour on a real anvil node: roles, pause, permit and EIP-3009 authorizations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract
from web3.logs import DISCARD

from tests.contracts.conftest import Chain, expect_revert, random_nonce

DEPOSIT_REF = keccak(text="deposit-0001")
REDEMPTION_REF = keccak(text="redemption-0001")
MakeAccount = Callable[[], LocalAccount]

AUTH_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]
DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _typed(
    token: Contract, primary: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, primary: fields},
        "primaryType": primary,
        "domain": {
            "name": "DigitalWon",
            "version": "1",
            "chainId": token.w3.eth.chain_id,
            "verifyingContract": token.address,
        },
        "message": message,
    }


def _authorization(
    chain: Chain,
    token: Contract,
    signer: LocalAccount,
    to: str,
    value: int,
    *,
    primary: str = "TransferWithAuthorization",
    valid_after: int = 0,
    valid_before: int | None = None,
    nonce: bytes | None = None,
    payer: str | None = None,
) -> tuple[tuple[Any, ...], Any]:
    """(call arguments without signature, signed message) for an EIP-3009 authorization."""
    message = {
        "from": payer or signer.address,
        "to": to,
        "value": value,
        "validAfter": valid_after,
        "validBefore": valid_before if valid_before is not None else chain.block_time() + 3600,
        "nonce": nonce or random_nonce(),
    }
    signed = Account.sign_typed_data(
        signer.key, full_message=_typed(token, primary, AUTH_FIELDS, message)
    )
    args = (
        message["from"],
        to,
        value,
        message["validAfter"],
        message["validBefore"],
        message["nonce"],
    )
    return args, signed


def _vrs(signed: Any) -> tuple[int, bytes, bytes]:
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def _mint(chain: Chain, token: Contract, admin: LocalAccount, to: str, amount: int) -> None:
    chain.send(token.functions.mint(to, amount, random_nonce()), admin)


# -- basics and roles -----------------------------------------------------------------------


def test_metadata_and_zero_decimals(token: Contract) -> None:
    assert token.functions.name().call() == "DigitalWon"
    assert token.functions.symbol().call() == "KRWD"
    assert token.functions.decimals().call() == 0
    assert token.functions.totalSupply().call() == 0


def test_admin_holds_all_roles(token: Contract, admin: LocalAccount) -> None:
    for role in ("ISSUER_ROLE", "PAUSER_ROLE"):
        assert token.functions.hasRole(keccak(text=role), admin.address).call()
    assert token.functions.hasRole(b"\x00" * 32, admin.address).call()


def test_issuer_mints_against_a_deposit(chain: Chain, token: Contract, admin: LocalAccount) -> None:
    holder = Account.create().address
    receipt = chain.send(token.functions.mint(holder, 50_000, DEPOSIT_REF), admin)
    assert token.functions.balanceOf(holder).call() == 50_000
    issued = token.events.Issued().process_receipt(receipt, errors=DISCARD)
    assert issued[0]["args"]["depositRef"] == DEPOSIT_REF
    assert token.functions.depositReferenceUsed(DEPOSIT_REF).call()


def test_non_issuer_cannot_mint(token: Contract, new_account: MakeAccount) -> None:
    stranger = new_account()
    fn = token.functions.mint(stranger.address, 1, DEPOSIT_REF)
    expect_revert(token, fn, stranger.address, "AccessControlUnauthorizedAccount")


def test_deposit_reference_mints_only_once(
    chain: Chain, token: Contract, admin: LocalAccount
) -> None:
    holder = Account.create().address
    chain.send(token.functions.mint(holder, 10, DEPOSIT_REF), admin)
    fn = token.functions.mint(holder, 10, DEPOSIT_REF)
    expect_revert(token, fn, admin.address, "DepositReferenceUsed")
    fn = token.functions.mint(holder, 10, b"\x00" * 32)
    expect_revert(token, fn, admin.address, "ZeroReference")


# -- pause ----------------------------------------------------------------------------------


def test_pause_blocks_transfers_until_unpaused(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    holder = new_account()
    _mint(chain, token, admin, holder.address, 100)
    chain.send(token.functions.pause(), admin)
    transfer = token.functions.transfer(admin.address, 1)
    expect_revert(token, transfer, holder.address, "EnforcedPause")
    mint = token.functions.mint(holder.address, 1, random_nonce())
    expect_revert(token, mint, admin.address, "EnforcedPause")
    chain.send(token.functions.unpause(), admin)
    chain.send(token.functions.transfer(admin.address, 1), holder)
    assert token.functions.balanceOf(holder.address).call() == 99


def test_non_pauser_cannot_pause(token: Contract, new_account: MakeAccount) -> None:
    stranger = new_account()
    expect_revert(
        token, token.functions.pause(), stranger.address, "AccessControlUnauthorizedAccount"
    )


# -- redemption -----------------------------------------------------------------------------


def test_holder_redeems_own_tokens(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    holder = new_account()
    _mint(chain, token, admin, holder.address, 100)
    receipt = chain.send(token.functions.redeem(40, REDEMPTION_REF), holder)
    assert token.functions.balanceOf(holder.address).call() == 60
    assert token.functions.totalSupply().call() == 60
    event = token.events.Redeemed().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["holder"], event["amount"]) == (holder.address, 40)
    expect_revert(
        token,
        token.functions.redeem(61, REDEMPTION_REF),
        holder.address,
        "ERC20InsufficientBalance",
    )
    expect_revert(token, token.functions.redeem(1, b"\x00" * 32), holder.address, "ZeroReference")


def _permit(
    token: Contract, owner: LocalAccount, spender: str, value: int, deadline: int
) -> tuple[Any, ...]:
    fields = [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
    message = {
        "owner": owner.address,
        "spender": spender,
        "value": value,
        "nonce": token.functions.nonces(owner.address).call(),
        "deadline": deadline,
    }
    signed = Account.sign_typed_data(
        owner.key, full_message=_typed(token, "Permit", fields, message)
    )
    return (owner.address, spender, value, deadline, *_vrs(signed))


def test_permit_then_issuer_redeems_from_holder(
    chain: Chain, token: Contract, admin: LocalAccount
) -> None:
    holder: LocalAccount = Account.create()  # never holds gas
    _mint(chain, token, admin, holder.address, 1_000)
    deadline = chain.block_time() + 3600
    chain.send(token.functions.permit(*_permit(token, holder, admin.address, 300, deadline)), admin)
    assert token.functions.allowance(holder.address, admin.address).call() == 300
    assert token.functions.nonces(holder.address).call() == 1
    chain.send(token.functions.redeemFrom(holder.address, 300, REDEMPTION_REF), admin)
    assert token.functions.balanceOf(holder.address).call() == 700
    assert token.functions.redemptionReferenceUsed(REDEMPTION_REF).call()
    again = token.functions.redeemFrom(holder.address, 1, REDEMPTION_REF)
    expect_revert(token, again, admin.address, "RedemptionReferenceUsed")
    beyond = token.functions.redeemFrom(holder.address, 1, random_nonce())
    expect_revert(token, beyond, admin.address, "ERC20InsufficientAllowance")


def test_permit_signed_by_someone_else_is_rejected(
    chain: Chain, token: Contract, admin: LocalAccount
) -> None:
    holder: LocalAccount = Account.create()
    forger: LocalAccount = Account.create()
    args = list(_permit(token, forger, admin.address, 300, chain.block_time() + 3600))
    args[0] = holder.address
    expect_revert(token, token.functions.permit(*args), admin.address, "ERC2612InvalidSigner")


def test_only_issuer_redeems_from_holder(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    holder, stranger = new_account(), new_account()
    _mint(chain, token, admin, holder.address, 10)
    chain.send(token.functions.approve(stranger.address, 10), holder)
    fn = token.functions.redeemFrom(holder.address, 10, REDEMPTION_REF)
    expect_revert(token, fn, stranger.address, "AccessControlUnauthorizedAccount")


# -- EIP-3009 -------------------------------------------------------------------------------


def test_typehashes_match_eip3009(token: Contract) -> None:
    fields = (
        "(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,"
        "bytes32 nonce)"
    )
    assert token.functions.TRANSFER_WITH_AUTHORIZATION_TYPEHASH().call() == keccak(
        text="TransferWithAuthorization" + fields
    )
    assert token.functions.RECEIVE_WITH_AUTHORIZATION_TYPEHASH().call() == keccak(
        text="ReceiveWithAuthorization" + fields
    )
    assert token.functions.CANCEL_AUTHORIZATION_TYPEHASH().call() == keccak(
        text="CancelAuthorization(address authorizer,bytes32 nonce)"
    )


def test_transfer_with_authorization_relayed_by_third_party(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    payer: LocalAccount = Account.create()  # no gas at all
    payee = Account.create().address
    relayer = new_account()
    _mint(chain, token, admin, payer.address, 500)
    args, signed = _authorization(chain, token, payer, payee, 200)
    receipt = chain.send(token.functions.transferWithAuthorization(*args, *_vrs(signed)), relayer)
    assert token.functions.balanceOf(payee).call() == 200
    assert token.functions.balanceOf(payer.address).call() == 300
    assert token.functions.authorizationState(payer.address, args[5]).call()
    used = token.events.AuthorizationUsed().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (used["authorizer"], used["nonce"]) == (payer.address, args[5])
    # Replaying the same authorization is refused.
    replay = token.functions.transferWithAuthorization(*args, *_vrs(signed))
    expect_revert(token, replay, relayer.address, "AuthorizationAlreadyUsed")


def test_transfer_with_authorization_bytes_signature(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    payer: LocalAccount = Account.create()
    payee = Account.create().address
    _mint(chain, token, admin, payer.address, 50)
    args, signed = _authorization(chain, token, payer, payee, 50)
    fn = token.get_function_by_signature(
        "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)"
    )
    chain.send(fn(*args, bytes(signed.signature)), new_account())
    assert token.functions.balanceOf(payee).call() == 50


def test_expired_and_not_yet_valid_authorizations_are_rejected(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    payer: LocalAccount = Account.create()
    relayer = new_account()
    _mint(chain, token, admin, payer.address, 50)
    now = chain.block_time()
    args, signed = _authorization(chain, token, payer, relayer.address, 5, valid_before=now - 1)
    fn = token.functions.transferWithAuthorization(*args, *_vrs(signed))
    expect_revert(token, fn, relayer.address, "AuthorizationExpired")
    args, signed = _authorization(chain, token, payer, relayer.address, 5, valid_after=now + 3600)
    fn = token.functions.transferWithAuthorization(*args, *_vrs(signed))
    expect_revert(token, fn, relayer.address, "AuthorizationNotYetValid")


def test_wrong_signer_or_tampered_value_is_rejected(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    payer: LocalAccount = Account.create()
    thief = new_account()
    _mint(chain, token, admin, payer.address, 50)
    # The thief signs a transfer out of the payer's account.
    args, signed = _authorization(chain, token, thief, thief.address, 50, payer=payer.address)
    fn = token.functions.transferWithAuthorization(*args, *_vrs(signed))
    expect_revert(token, fn, thief.address, "InvalidAuthorizationSignature")
    # The payer signs 5; the relayer tries to submit 50.
    args, signed = _authorization(chain, token, payer, thief.address, 5)
    tampered = (*args[:2], 50, *args[3:])
    fn = token.functions.transferWithAuthorization(*tampered, *_vrs(signed))
    expect_revert(token, fn, thief.address, "InvalidAuthorizationSignature")
    assert token.functions.balanceOf(payer.address).call() == 50


def test_authorization_blocked_while_paused(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    payer: LocalAccount = Account.create()
    relayer = new_account()
    _mint(chain, token, admin, payer.address, 50)
    chain.send(token.functions.pause(), admin)
    args, signed = _authorization(chain, token, payer, relayer.address, 5)
    fn = token.functions.transferWithAuthorization(*args, *_vrs(signed))
    expect_revert(token, fn, relayer.address, "EnforcedPause")


def _cancel_signature(token: Contract, signer: LocalAccount, authorizer: str, nonce: bytes) -> Any:
    fields = [{"name": "authorizer", "type": "address"}, {"name": "nonce", "type": "bytes32"}]
    message = {"authorizer": authorizer, "nonce": nonce}
    return Account.sign_typed_data(
        signer.key, full_message=_typed(token, "CancelAuthorization", fields, message)
    )


def test_cancel_authorization_voids_the_nonce(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    payer: LocalAccount = Account.create()
    relayer = new_account()
    _mint(chain, token, admin, payer.address, 50)
    args, signed = _authorization(chain, token, payer, relayer.address, 5)
    nonce = args[5]
    cancel = _cancel_signature(token, payer, payer.address, nonce)
    receipt = chain.send(
        token.functions.cancelAuthorization(payer.address, nonce, *_vrs(cancel)), relayer
    )
    assert token.events.AuthorizationCanceled().process_receipt(receipt, errors=DISCARD)
    assert token.functions.authorizationState(payer.address, nonce).call()
    fn = token.functions.transferWithAuthorization(*args, *_vrs(signed))
    expect_revert(token, fn, relayer.address, "AuthorizationAlreadyUsed")
    again = token.functions.cancelAuthorization(payer.address, nonce, *_vrs(cancel))
    expect_revert(token, again, relayer.address, "AuthorizationAlreadyUsed")


def test_cancel_by_someone_else_is_rejected(token: Contract, new_account: MakeAccount) -> None:
    payer: LocalAccount = Account.create()
    stranger = new_account()
    nonce = random_nonce()
    cancel = _cancel_signature(token, stranger, payer.address, nonce)
    fn = token.functions.cancelAuthorization(payer.address, nonce, *_vrs(cancel))
    expect_revert(token, fn, stranger.address, "InvalidAuthorizationSignature")
    assert not token.functions.authorizationState(payer.address, nonce).call()


def test_receive_with_authorization_only_by_payee(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    payer: LocalAccount = Account.create()
    payee, front_runner = new_account(), new_account()
    _mint(chain, token, admin, payer.address, 50)
    args, signed = _authorization(
        chain, token, payer, payee.address, 20, primary="ReceiveWithAuthorization"
    )
    fn = token.functions.receiveWithAuthorization(*args, *_vrs(signed))
    expect_revert(token, fn, front_runner.address, "CallerNotPayee")
    # A receive authorization is not a transfer authorization (different typehash).
    as_transfer = token.functions.transferWithAuthorization(*args, *_vrs(signed))
    expect_revert(token, as_transfer, front_runner.address, "InvalidAuthorizationSignature")
    chain.send(token.functions.receiveWithAuthorization(*args, *_vrs(signed)), payee)
    assert token.functions.balanceOf(payee.address).call() == 20


# -- ERC-1271 smart-contract wallets ----------------------------------------------------------

# Runtime code answering every call with 32 bytes: ERC-1271's magic value 0x1626ba7e (accept)
# or zero (reject). PUSH4 magic, PUSH1 224, SHL, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN.
ACCEPTING_WALLET = bytes.fromhex("631626ba7e60e01b60005260206000f3")
REJECTING_WALLET = bytes.fromhex("600060005260206000f3")


def _wallet(chain: Chain, code: bytes) -> str:
    address = Account.create().address
    chain.w3.provider.make_request("anvil_setCode", [address, "0x" + code.hex()])  # type: ignore[arg-type]
    return address


def test_contract_wallet_authorizes_through_erc1271(
    chain: Chain, token: Contract, admin: LocalAccount, new_account: MakeAccount
) -> None:
    relayer = new_account()
    some_key: LocalAccount = Account.create()
    fn_bytes = token.get_function_by_signature(
        "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)"
    )
    accepting = _wallet(chain, ACCEPTING_WALLET)
    _mint(chain, token, admin, accepting, 30)
    args, signed = _authorization(chain, token, some_key, relayer.address, 30, payer=accepting)
    chain.send(fn_bytes(*args, bytes(signed.signature)), relayer)
    assert token.functions.balanceOf(relayer.address).call() == 30

    rejecting = _wallet(chain, REJECTING_WALLET)
    _mint(chain, token, admin, rejecting, 30)
    args, signed = _authorization(chain, token, some_key, relayer.address, 30, payer=rejecting)
    expect_revert(
        token,
        fn_bytes(*args, bytes(signed.signature)),
        relayer.address,
        "InvalidAuthorizationSignature",
    )
