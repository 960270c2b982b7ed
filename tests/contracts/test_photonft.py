"""PhotoNFT on a real anvil node: lazy mint by voucher and claim key, 1-of-1, royalties, privacy.

Vouchers, claims and owner signatures come from busanchain.studio.contracts, the module the
services use, and its digests are checked against the contract's own digest views. A private
node is used because some tests move the clock forward.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from busanchain.chain.artifacts import load_artifact
from busanchain.chain.rpc import make_web3
from busanchain.chain.signing import Signer
from busanchain.domain.errors import ValidationFailed
from busanchain.studio.contracts import (
    MAX_ROYALTY_BPS,
    ClaimKey,
    MintVoucher,
    PhotoDomain,
    approval_for_all_typed_data,
    claim_typed_data,
    mint_voucher_typed_data,
    new_claim_key,
    publish_on_claim_typed_data,
    publish_typed_data,
    royalty_amount,
    sign_approval_for_all,
    sign_claim,
    sign_mint_voucher,
    sign_publish,
    sign_publish_on_claim,
    typed_data_digest,
)
from tests.conftest import start_anvil
from tests.contracts.conftest import Chain, error_selector, expect_revert
from tests.contracts.test_merchant_registry import deploy
from tests.contracts.test_policy_voucher import advance
from tests.personal_data_scan import scan_chain

MakeAccount = Callable[[], LocalAccount]
ZERO = "0x0000000000000000000000000000000000000000"
ROYALTY_BPS = 250
HOUR = 3600

INTERFACES = {
    "ERC165": ("0x01ffc9a7", True),
    "ERC721": ("0x80ac58cd", True),
    "ERC721Metadata": ("0x5b5e139f", True),
    "ERC2981": ("0x2a55205a", True),
    "ERC4906": ("0x49064906", True),
    "AccessControl": ("0x7965db0b", True),
    "ERC1155": ("0xd9b67a26", False),
    "ERC1155MetadataURI": ("0x0e89341c", False),
    "ERC721Enumerable": ("0x780e9d63", False),
    "invalid": ("0xffffffff", False),
}


def fake_cid(data: bytes) -> str:
    """A CIDv1 (raw codec, sha2-256) of `data`, in kubo's base32 form ("bafkrei...")."""
    multihash = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(multihash).decode().lower().rstrip("=")


@dataclass
class Env:
    """A fresh PhotoNFT, its admin, one registered studio, a relayer and a photographer."""

    chain: Chain
    nft: Contract
    admin: LocalAccount
    studio: LocalAccount
    relayer: LocalAccount
    photographer: str
    new_account: MakeAccount

    @property
    def domain(self) -> PhotoDomain:
        return PhotoDomain(self.chain.w3.eth.chain_id, self.nft.address)

    def voucher(self, **overrides: Any) -> tuple[MintVoucher, ClaimKey]:
        """A fresh valid voucher (new photo, new claim key, expiry in one hour)."""
        key = new_claim_key()
        original = os.urandom(64)
        voucher = MintVoucher(
            content_hash=hashlib.sha256(original).digest(),
            metadata_cid=fake_cid(b"metadata" + original),
            stub_cid=fake_cid(b"stub" + original),
            royalty_receiver=self.photographer,
            royalty_bps=ROYALTY_BPS,
            expiry=self.chain.block_time() + HOUR,
            claim_key=key.address,
            voucher_id=int.from_bytes(os.urandom(8), "big"),
        )
        return replace(voucher, **overrides), key

    def claim_fn(
        self,
        voucher: MintVoucher,
        key: ClaimKey,
        to: str,
        *,
        studio: LocalAccount | None = None,
        studio_sig: bytes | None = None,
        claim_sig: bytes | None = None,
    ) -> ContractFunction:
        """`claim(...)` with signatures made by the studio and the claim key (or given)."""
        if studio_sig is None:
            signer = Signer(studio or self.studio)
            studio_sig = sign_mint_voucher(signer, self.domain, voucher, validate=False)
        if claim_sig is None:
            claim_sig = sign_claim(key.signer(), self.domain, voucher.voucher_id, to)
        return self.nft.functions.claim(voucher.as_tuple(), studio_sig, to, claim_sig)

    def claim(self, voucher: MintVoucher, key: ClaimKey, to: str, **kw: Any) -> dict[str, Any]:
        """Claim through the relayer; return the receipt."""
        return self.chain.send(self.claim_fn(voucher, key, to, **kw), self.relayer)

    def mint(self, to: str, **overrides: Any) -> int:
        """Claim a fresh voucher to `to`; return the token id."""
        voucher, key = self.voucher(**overrides)
        receipt = self.claim(voucher, key, to)
        return int(self.events(receipt, "Claimed")[0]["tokenId"])

    def events(self, receipt: dict[str, Any], name: str) -> list[Any]:
        """The decoded args of the named event in a receipt."""
        event = getattr(self.nft.events, name)()
        return [e["args"] for e in event.process_receipt(receipt, errors=DISCARD)]

    def revert(self, fn: ContractFunction, error: str, sender: str | None = None) -> None:
        """Assert that `fn` (sent by the relayer unless said) reverts with `error`."""
        expect_revert(self.nft, fn, sender or self.relayer.address, error)

    def grant_minter(self, account: str) -> None:
        role = self.nft.functions.MINTER_ROLE().call()
        self.chain.send(self.nft.functions.grantRole(role, account), self.admin)

    def nonce(self, owner: str) -> int:
        return int(self.nft.functions.nonces(owner).call())


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[Chain]:
    """A private node (these tests move the clock), scanned for personal data at the end."""
    node = start_anvil(tmp_path_factory.mktemp("photonft-node"), anvil_binary)
    try:
        yield Chain(make_web3(node.config.rpc_url))
        scanned, hits = scan_chain(node.config.rpc_url)
        assert not hits, f"personal data on chain ({scanned} txs scanned): {hits[:10]}"
    finally:
        node.stop(snapshot=False)


@pytest.fixture
def env(chain: Chain, admin: LocalAccount, new_account: MakeAccount) -> Env:
    nft = deploy(chain, "PhotoNFT", admin, admin.address)
    environment = Env(
        chain, nft, admin, new_account(), new_account(), Account.create().address, new_account
    )
    environment.grant_minter(environment.studio.address)
    return environment


@pytest.fixture
def customer() -> LocalAccount:
    """A custodial customer wallet: no gas at all."""
    account: LocalAccount = Account.create()
    return account


# -- deployment and roles -----------------------------------------------------------------


def test_roles_studio_admin_manages_minters(env: Env) -> None:
    nft = env.nft
    minter, studio_admin = (
        nft.functions.MINTER_ROLE().call(),
        nft.functions.STUDIO_ADMIN_ROLE().call(),
    )
    assert nft.functions.getRoleAdmin(minter).call() == studio_admin
    assert nft.functions.hasRole(studio_admin, env.admin.address).call()
    assert nft.functions.hasRole(minter, env.studio.address).call()
    outsider = env.new_account()
    fn = nft.functions.grantRole(minter, outsider.address)
    expect_revert(nft, fn, env.studio.address, "AccessControlUnauthorizedAccount")
    env.chain.send(nft.functions.revokeRole(minter, env.studio.address), env.admin)
    assert not nft.functions.hasRole(minter, env.studio.address).call()


def test_constructor_rejects_zero_admin(env: Env) -> None:
    artifact = load_artifact("PhotoNFT")
    factory = env.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    with pytest.raises(ContractCustomError) as caught:
        factory.constructor(ZERO).estimate_gas({"from": env.admin.address})
    assert str(caught.value.data).startswith(error_selector(env.nft, "ZeroAdmin"))
    assert factory.constructor(env.admin.address).estimate_gas({"from": env.admin.address}) > 0


def test_supports_interface_matrix(env: Env) -> None:
    for name, (interface_id, expected) in INTERFACES.items():
        got = env.nft.functions.supportsInterface(bytes.fromhex(interface_id[2:])).call()
        assert got is expected, name


# -- typed data shared with the services --------------------------------------------------


def test_python_digests_equal_contract_digests(env: Env, customer: LocalAccount) -> None:
    voucher, _ = env.voucher()
    nft, domain = env.nft, env.domain
    assert nft.functions.voucherDigest(voucher.as_tuple()).call() == typed_data_digest(
        mint_voucher_typed_data(domain, voucher)
    )
    assert nft.functions.claimDigest(7, customer.address).call() == typed_data_digest(
        claim_typed_data(domain, 7, customer.address)
    )
    assert nft.functions.publishDigest(3, True, 5, 99).call() == typed_data_digest(
        publish_typed_data(domain, 3, True, 5, 99)
    )
    content = voucher.content_hash
    assert nft.functions.publishOnClaimDigest(content, customer.address, 4, 99).call() == (
        typed_data_digest(publish_on_claim_typed_data(domain, content, customer.address, 4, 99))
    )
    operator = Account.create().address
    assert nft.functions.approvalForAllDigest(
        customer.address, operator, True, 2, 99
    ).call() == typed_data_digest(
        approval_for_all_typed_data(domain, customer.address, operator, True, 2, 99)
    )


def test_voucher_validation_before_signing(env: Env) -> None:
    voucher, _ = env.voucher()
    signer = Signer(env.studio)
    bad = [
        replace(voucher, royalty_bps=MAX_ROYALTY_BPS + 1),
        replace(voucher, content_hash=bytes(32)),
        replace(voucher, content_hash=b"short"),
        replace(voucher, stub_cid=""),
    ]
    for item in bad:
        with pytest.raises(ValidationFailed) as caught:
            sign_mint_voucher(signer, env.domain, item)
        assert caught.value.message_ko and caught.value.message_en
    assert len(sign_mint_voucher(signer, env.domain, voucher)) == 65


# -- claims -------------------------------------------------------------------------------


def test_claim_mints_one_private_token_gaslessly(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher()
    nft = env.nft
    before = nft.functions.balanceOf(customer.address).call()
    receipt = env.claim(voucher, key, customer.address)
    print(f"PhotoNFT claim gas: {receipt['gasUsed']}")
    (claimed,) = env.events(receipt, "Claimed")
    token_id = claimed["tokenId"]
    assert token_id == 1 == nft.functions.totalMinted().call()
    assert claimed["voucherId"] == voucher.voucher_id
    assert claimed["studio"] == env.studio.address and claimed["to"] == customer.address
    assert claimed["contentHash"] == voucher.content_hash
    assert nft.functions.balanceOf(customer.address).call() == before + 1
    assert nft.functions.ownerOf(token_id).call() == customer.address
    assert nft.functions.tokenOfContent(voucher.content_hash).call() == token_id
    assert nft.functions.voucherUsed(env.studio.address, voucher.voucher_id).call()
    assert nft.functions.photo(token_id).call() == (
        voucher.content_hash,
        env.studio.address,
        False,
        voucher.metadata_cid,
        voucher.stub_cid,
    )
    assert not nft.functions.isPublished(token_id).call()
    assert nft.functions.tokenURI(token_id).call() == f"ipfs://{voucher.stub_cid}"
    assert env.chain.w3.eth.get_balance(customer.address) == 0  # the customer paid nothing
    assert receipt["gasUsed"] < 400_000


def claim_and_publish_fn(
    env: Env, voucher: MintVoucher, key: ClaimKey, owner: LocalAccount, **kw: Any
) -> ContractFunction:
    """`claimAndPublish(...)` with the studio's, the claim key's and `owner`'s signatures."""
    deadline = kw.pop("deadline", env.chain.block_time() + HOUR)
    nonce = kw.pop("nonce", env.nonce(owner.address))
    signer = Signer(kw.pop("consent_by", owner))
    consent = sign_publish_on_claim(signer, env.domain, voucher.content_hash, nonce, deadline)
    claim = env.claim_fn(voucher, key, owner.address)
    v, studio_sig, to, claim_sig = claim.args
    return env.nft.functions.claimAndPublish(v, studio_sig, to, claim_sig, deadline, consent)


def test_claim_and_publish_mints_a_published_token_in_one_transaction(
    env: Env, customer: LocalAccount
) -> None:
    voucher, key = env.voucher()
    receipt = env.chain.send(claim_and_publish_fn(env, voucher, key, customer), env.relayer)
    (claimed,) = env.events(receipt, "Claimed")
    token_id = claimed["tokenId"]
    assert env.nft.functions.ownerOf(token_id).call() == customer.address
    assert env.nft.functions.isPublished(token_id).call()
    assert env.nft.functions.tokenURI(token_id).call() == f"ipfs://{voucher.metadata_cid}"
    assert [e["published"] for e in env.events(receipt, "PublishedSet")] == [True]
    assert [e["_tokenId"] for e in env.events(receipt, "MetadataUpdate")] == [token_id]
    assert env.nonce(customer.address) == 1
    assert env.chain.w3.eth.get_balance(customer.address) == 0
    env.revert(claim_and_publish_fn(env, voucher, key, customer), "VoucherUsed")


def test_claim_and_publish_needs_the_recipients_fresh_consent(
    env: Env, customer: LocalAccount
) -> None:
    voucher, key = env.voucher()
    stranger = env.new_account()
    forged = claim_and_publish_fn(env, voucher, key, customer, consent_by=stranger)
    env.revert(forged, "BadOwnerSignature")
    stale = claim_and_publish_fn(env, voucher, key, customer, nonce=1)
    env.revert(stale, "BadOwnerSignature")
    late = claim_and_publish_fn(env, voucher, key, customer, deadline=env.chain.block_time() - 1)
    env.revert(late, "SignatureExpired")
    other, other_key = env.voucher()
    consent = sign_publish_on_claim(
        Signer(customer), env.domain, voucher.content_hash, 0, env.chain.block_time() + HOUR
    )
    v, studio_sig, to, claim_sig = env.claim_fn(other, other_key, customer.address).args
    wrong_photo = env.nft.functions.claimAndPublish(
        v, studio_sig, to, claim_sig, env.chain.block_time() + HOUR, consent
    )
    env.revert(wrong_photo, "BadOwnerSignature")  # the consent names another photo
    assert env.nft.functions.totalMinted().call() == 0
    assert env.nonce(customer.address) == 0


def test_claim_twice_fails(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher()
    env.claim(voucher, key, customer.address)
    env.revert(env.claim_fn(voucher, key, customer.address), "VoucherUsed")
    other = Account.create().address
    env.revert(env.claim_fn(voucher, key, other), "VoucherUsed")


def test_claim_after_expiry_fails(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher(expiry=env.chain.block_time() + 100)
    fn = env.claim_fn(voucher, key, customer.address)
    fn.call({"from": env.relayer.address})  # valid now
    advance(env.chain, 200)
    env.revert(fn, "VoucherExpired")
    past, past_key = env.voucher(expiry=env.chain.block_time())
    env.revert(env.claim_fn(past, past_key, customer.address), "VoucherExpired")


def test_front_runner_cannot_redirect_a_claim(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher()
    thief = env.new_account()
    honest_sig = sign_claim(key.signer(), env.domain, voucher.voucher_id, customer.address)
    copied = env.claim_fn(voucher, key, thief.address, claim_sig=honest_sig)
    env.revert(copied, "BadClaimSignature", thief.address)
    own_key = Signer(thief)
    forged = sign_claim(own_key, env.domain, voucher.voucher_id, thief.address)
    env.revert(env.claim_fn(voucher, key, thief.address, claim_sig=forged), "BadClaimSignature")
    env.revert(
        env.claim_fn(voucher, key, customer.address, claim_sig=b"\x01" * 10), "BadClaimSignature"
    )
    env.claim(voucher, key, customer.address, claim_sig=honest_sig)
    assert env.nft.functions.balanceOf(thief.address).call() == 0


def test_same_photo_is_minted_only_once(env: Env, customer: LocalAccount) -> None:
    """1-of-1 (FSC 2024 guideline): no editions, no fractions, one token per photo ever."""
    nft = env.nft
    voucher, key = env.voucher()
    before = nft.functions.balanceOf(customer.address).call()
    receipt = env.claim(voucher, key, customer.address)
    assert nft.functions.balanceOf(customer.address).call() == before + 1
    mints = nft.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert [m["args"]["from"] for m in mints] == [ZERO]  # exactly one token came into being
    again, again_key = env.voucher(content_hash=voucher.content_hash)
    env.revert(env.claim_fn(again, again_key, customer.address), "ContentAlreadyMinted")
    second_studio = env.new_account()
    env.grant_minter(second_studio.address)
    fn = env.claim_fn(again, again_key, customer.address, studio=second_studio)
    env.revert(fn, "ContentAlreadyMinted")
    token_id = nft.functions.tokenOfContent(voucher.content_hash).call()
    claimed = nft.events.Claimed().get_logs(from_block=0)
    assert [
        c["args"]["tokenId"] for c in claimed if c["args"]["contentHash"] == voucher.content_hash
    ] == [token_id]
    assert nft.functions.totalMinted().call() == 1
    assert not nft.functions.supportsInterface(bytes.fromhex("d9b67a26")).call()  # not ERC-1155
    names = {item.get("name") for item in nft.abi if item["type"] == "function"}
    assert not names & {"burn", "balanceOfBatch", "mintBatch", "totalSupply", "fractionalize"}


def test_bad_studio_signatures_fail(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher()
    malformed = env.claim_fn(voucher, key, customer.address, studio_sig=b"\x00" * 64)
    env.revert(malformed, "BadStudioSignature")
    stranger = env.new_account()
    env.revert(env.claim_fn(voucher, key, customer.address, studio=stranger), "NotMinter")
    signed = sign_mint_voucher(Signer(env.studio), env.domain, voucher)
    tampered = replace(voucher, royalty_receiver=stranger.address)
    env.revert(env.claim_fn(tampered, key, customer.address, studio_sig=signed), "NotMinter")
    other_domain = PhotoDomain(env.domain.chain_id, Account.create().address)
    replayed = sign_mint_voucher(Signer(env.studio), other_domain, voucher)
    env.revert(env.claim_fn(voucher, key, customer.address, studio_sig=replayed), "NotMinter")


def test_revoked_minter_vouchers_fail(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher()
    fn = env.claim_fn(voucher, key, customer.address)
    minter = env.nft.functions.MINTER_ROLE().call()
    env.chain.send(env.nft.functions.revokeRole(minter, env.studio.address), env.admin)
    env.revert(fn, "NotMinter")
    env.revert(
        env.nft.functions.cancelVoucher(1), "AccessControlUnauthorizedAccount", env.studio.address
    )


def test_royalty_above_max_fails(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher(royalty_bps=MAX_ROYALTY_BPS + 1)
    env.revert(env.claim_fn(voucher, key, customer.address), "RoyaltyTooHigh")
    at_cap, cap_key = env.voucher(royalty_bps=MAX_ROYALTY_BPS)
    receipt = env.claim(at_cap, cap_key, customer.address)
    token_id = env.events(receipt, "Claimed")[0]["tokenId"]
    assert env.nft.functions.royaltyInfo(token_id, 10_000).call() == [env.photographer, 1_000]


def test_bad_fields_fail(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher()
    env.revert(env.claim_fn(voucher, key, ZERO), "ZeroRecipient")
    zero_hash, zero_key = env.voucher(content_hash=bytes(32))
    env.revert(env.claim_fn(zero_hash, zero_key, customer.address), "ZeroContentHash")
    no_cid, no_cid_key = env.voucher(metadata_cid="")
    env.revert(env.claim_fn(no_cid, no_cid_key, customer.address), "EmptyCid")
    no_receiver, nr_key = env.voucher(royalty_receiver=ZERO)
    env.revert(
        env.claim_fn(no_receiver, nr_key, customer.address), "ERC2981InvalidTokenRoyaltyReceiver"
    )
    not_receiver = deploy(env.chain, "MerchantRegistry", env.admin, env.admin.address)
    env.revert(env.claim_fn(voucher, key, not_receiver.address), "ERC721InvalidReceiver")


def test_cancel_voucher(env: Env, customer: LocalAccount) -> None:
    voucher, key = env.voucher()
    other_studio = env.new_account()
    env.grant_minter(other_studio.address)
    cancel = env.nft.functions.cancelVoucher(voucher.voucher_id)
    env.chain.send(cancel, other_studio)  # another studio's namespace: no effect on ours
    receipt = env.chain.send(cancel, env.studio)
    assert env.events(receipt, "VoucherCancelled")[0]["studio"] == env.studio.address
    env.revert(env.claim_fn(voucher, key, customer.address), "VoucherUsed")
    env.revert(cancel, "VoucherUsed", env.studio.address)
    env.revert(cancel, "AccessControlUnauthorizedAccount", customer.address)
    theirs, their_key = env.voucher(voucher_id=voucher.voucher_id)
    env.revert(
        env.claim_fn(theirs, their_key, customer.address, studio=other_studio), "VoucherUsed"
    )


def test_royalty_info_is_exact(env: Env, customer: LocalAccount) -> None:
    token_id = env.mint(customer.address)
    info = env.nft.functions.royaltyInfo
    for price in (0, 1, 39, 40, 999, 10_000, 1_234_567, 2**200 + 3):
        assert info(token_id, price).call() == [
            env.photographer,
            royalty_amount(price, ROYALTY_BPS),
        ]
    assert info(token_id, 999).call()[1] == 24  # 24.975 rounds down
    assert info(token_id, 40).call()[1] == 1 and info(token_id, 39).call()[1] == 0
    no_royalty = env.mint(customer.address, royalty_bps=0, royalty_receiver=ZERO)
    assert info(no_royalty, 1_000_000).call() == [ZERO, 0]


# -- privacy ------------------------------------------------------------------------------


def test_publish_and_unpublish_change_uri_and_emit(env: Env) -> None:
    owner = env.new_account()
    voucher, key = env.voucher()
    token_id = env.events(env.claim(voucher, key, owner.address), "Claimed")[0]["tokenId"]
    receipt = env.chain.send(env.nft.functions.setPublished(token_id, True), owner)
    assert [e["_tokenId"] for e in env.events(receipt, "MetadataUpdate")] == [token_id]
    assert env.events(receipt, "PublishedSet")[0]["published"] is True
    assert env.nft.functions.tokenURI(token_id).call() == f"ipfs://{voucher.metadata_cid}"
    receipt = env.chain.send(env.nft.functions.setPublished(token_id, False), owner)
    assert [e["_tokenId"] for e in env.events(receipt, "MetadataUpdate")] == [token_id]
    assert env.events(receipt, "PublishedSet")[0]["published"] is False
    assert env.nft.functions.tokenURI(token_id).call() == f"ipfs://{voucher.stub_cid}"


def test_only_owner_publishes_and_approved_may_unpublish(env: Env) -> None:
    owner, operator, stranger = env.new_account(), env.new_account(), env.new_account()
    token_id = env.mint(owner.address)
    publish, unpublish = (env.nft.functions.setPublished(token_id, flag) for flag in (True, False))
    env.revert(publish, "NotTokenOwner", stranger.address)
    env.revert(unpublish, "ERC721InsufficientApproval", stranger.address)
    env.chain.send(env.nft.functions.setApprovalForAll(operator.address, True), owner)
    env.revert(publish, "NotTokenOwner", operator.address)
    env.chain.send(publish, owner)
    env.chain.send(unpublish, operator)
    assert not env.nft.functions.isPublished(token_id).call()
    env.revert(env.nft.functions.setPublished(999, True), "ERC721NonexistentToken", owner.address)
    env.revert(env.nft.functions.tokenURI(999), "ERC721NonexistentToken")


def test_publish_with_sig_is_gasless_and_not_replayable(env: Env, customer: LocalAccount) -> None:
    token_id = env.mint(customer.address)
    owner, deadline = Signer(customer), env.chain.block_time() + HOUR
    sig = sign_publish(owner, env.domain, token_id, True, env.nonce(customer.address), deadline)
    fn = env.nft.functions.setPublishedWithSig(token_id, True, deadline, sig)
    receipt = env.chain.send(fn, env.relayer)
    assert [e["_tokenId"] for e in env.events(receipt, "MetadataUpdate")] == [token_id]
    assert env.nft.functions.isPublished(token_id).call()
    assert env.nonce(customer.address) == 1
    env.revert(fn, "BadOwnerSignature")  # replay: the nonce moved on
    stranger = Signer(env.new_account())
    forged = sign_publish(stranger, env.domain, token_id, False, 1, deadline)
    env.revert(
        env.nft.functions.setPublishedWithSig(token_id, False, deadline, forged),
        "BadOwnerSignature",
    )
    late = env.chain.block_time() - 1
    old = sign_publish(owner, env.domain, token_id, False, 1, late)
    env.revert(
        env.nft.functions.setPublishedWithSig(token_id, False, late, old), "SignatureExpired"
    )


def test_transfer_makes_token_private_again(env: Env) -> None:
    seller, buyer = env.new_account(), env.new_account()
    voucher, key = env.voucher()
    token_id = env.events(env.claim(voucher, key, seller.address), "Claimed")[0]["tokenId"]
    env.chain.send(env.nft.functions.setPublished(token_id, True), seller)
    transfer = env.nft.functions.transferFrom(seller.address, buyer.address, token_id)
    receipt = env.chain.send(transfer, seller)
    assert [e["_tokenId"] for e in env.events(receipt, "MetadataUpdate")] == [token_id]
    assert env.events(receipt, "PublishedSet")[0]["published"] is False
    assert not env.nft.functions.isPublished(token_id).call()
    assert env.nft.functions.tokenURI(token_id).call() == f"ipfs://{voucher.stub_cid}"
    back = env.nft.functions.transferFrom(buyer.address, seller.address, token_id)
    assert env.events(env.chain.send(back, buyer), "MetadataUpdate") == []  # was private: no change


# -- escrow (the Gallery's auctions) -----------------------------------------------------


@dataclass
class Escrowed:
    """A published token of `seller`, moved into the escrow of `escrow` (an ESCROW_ROLE holder)."""

    token_id: int
    seller: LocalAccount
    escrow: LocalAccount
    receipt: dict[str, Any]
    voucher: MintVoucher


def grant_escrow(env: Env) -> LocalAccount:
    """A fresh funded account holding ESCROW_ROLE (stands in for the Gallery contract)."""
    escrow = env.new_account()
    role = env.nft.functions.ESCROW_ROLE().call()
    env.chain.send(env.nft.functions.grantRole(role, escrow.address), env.admin)
    return escrow


@pytest.fixture
def escrowed(env: Env) -> Escrowed:
    seller, escrow = env.new_account(), grant_escrow(env)
    voucher, key = env.voucher()
    token_id = env.events(env.claim(voucher, key, seller.address), "Claimed")[0]["tokenId"]
    env.chain.send(env.nft.functions.setPublished(token_id, True), seller)
    into = env.nft.functions.transferFrom(seller.address, escrow.address, token_id)
    return Escrowed(token_id, seller, escrow, env.chain.send(into, seller), voucher)


def test_escrow_role_is_managed_by_the_admin(env: Env) -> None:
    role = env.nft.functions.ESCROW_ROLE().call()
    assert env.nft.functions.getRoleAdmin(role).call() == bytes(32)  # DEFAULT_ADMIN_ROLE
    outsider = env.new_account()
    fn = env.nft.functions.grantRole(role, outsider.address)
    expect_revert(env.nft, fn, env.studio.address, "AccessControlUnauthorizedAccount")


def test_moving_into_escrow_keeps_the_token_published(env: Env, escrowed: Escrowed) -> None:
    token_id = escrowed.token_id
    assert env.events(escrowed.receipt, "MetadataUpdate") == []
    assert env.nft.functions.ownerOf(token_id).call() == escrowed.escrow.address
    assert env.nft.functions.isPublished(token_id).call()
    uri = f"ipfs://{escrowed.voucher.metadata_cid}"
    assert env.nft.functions.tokenURI(token_id).call() == uri
    assert env.nft.functions.escrowedFrom(token_id).call() == escrowed.seller.address


def test_back_to_the_seller_keeps_the_flag(env: Env, escrowed: Escrowed) -> None:
    token_id, seller = escrowed.token_id, escrowed.seller.address
    back = env.nft.functions.transferFrom(escrowed.escrow.address, seller, token_id)
    assert env.events(env.chain.send(back, escrowed.escrow), "MetadataUpdate") == []
    assert env.nft.functions.isPublished(token_id).call()
    assert env.nft.functions.escrowedFrom(token_id).call() == ZERO
    buyer = env.new_account().address  # out of escrow: an ordinary sale is private again
    env.chain.send(env.nft.functions.transferFrom(seller, buyer, token_id), escrowed.seller)
    assert not env.nft.functions.isPublished(token_id).call()


def test_leaving_escrow_for_a_winner_makes_it_private(env: Env, escrowed: Escrowed) -> None:
    token_id, winner = escrowed.token_id, env.new_account()
    out = env.nft.functions.transferFrom(escrowed.escrow.address, winner.address, token_id)
    receipt = env.chain.send(out, escrowed.escrow)
    assert [e["_tokenId"] for e in env.events(receipt, "MetadataUpdate")] == [token_id]
    assert env.events(receipt, "PublishedSet")[0]["published"] is False
    assert not env.nft.functions.isPublished(token_id).call()
    assert env.nft.functions.escrowedFrom(token_id).call() == ZERO
    assert env.nft.functions.tokenURI(token_id).call() == f"ipfs://{escrowed.voucher.stub_cid}"
    env.chain.send(env.nft.functions.setPublished(token_id, True), winner)  # the winner decides
    env.revert(
        env.nft.functions.setPublished(token_id, False),
        "ERC721InsufficientApproval",
        escrowed.seller.address,
    )


def test_escrow_to_another_escrow_is_a_new_owner(env: Env, escrowed: Escrowed) -> None:
    token_id, other = escrowed.token_id, grant_escrow(env)
    move = env.nft.functions.transferFrom(escrowed.escrow.address, other.address, token_id)
    env.chain.send(move, escrowed.escrow)
    assert not env.nft.functions.isPublished(token_id).call()
    assert env.nft.functions.escrowedFrom(token_id).call() == escrowed.escrow.address


def test_a_transfer_to_a_non_escrow_is_private(env: Env) -> None:
    seller, buyer = env.new_account(), env.new_account()
    token_id = env.mint(seller.address)
    env.chain.send(env.nft.functions.setPublished(token_id, True), seller)
    move = env.nft.functions.transferFrom(seller.address, buyer.address, token_id)
    assert env.events(env.chain.send(move, seller), "MetadataUpdate") != []
    assert not env.nft.functions.isPublished(token_id).call()
    assert env.nft.functions.escrowedFrom(token_id).call() == ZERO


def test_only_the_beneficial_owner_unpublishes_in_escrow(env: Env, escrowed: Escrowed) -> None:
    token_id, seller, escrow = escrowed.token_id, escrowed.seller, escrowed.escrow
    publish, unpublish = (env.nft.functions.setPublished(token_id, flag) for flag in (True, False))
    stranger = env.new_account()
    env.revert(unpublish, "NotTokenOwner", stranger.address)
    env.revert(unpublish, "NotTokenOwner", escrow.address)  # the custodian is not the owner
    receipt = env.chain.send(unpublish, seller)
    assert [e["_tokenId"] for e in env.events(receipt, "MetadataUpdate")] == [token_id]
    assert not env.nft.functions.isPublished(token_id).call()
    for who in (seller, escrow, stranger):
        env.revert(publish, "TokenInEscrow", who.address)
    back = env.nft.functions.transferFrom(escrow.address, seller.address, token_id)
    env.chain.send(back, escrow)
    assert not env.nft.functions.isPublished(token_id).call()  # kept private on the way back
    env.chain.send(publish, seller)  # and the owner may publish again


def test_unpublish_with_sig_in_escrow_needs_the_beneficial_owner(env: Env) -> None:
    customer: LocalAccount = Account.create()
    escrow, token_id = grant_escrow(env), env.mint(customer.address)
    deadline = env.chain.block_time() + HOUR
    owner = Signer(customer)

    def by(signer: Signer, published: bool) -> ContractFunction:
        nonce = env.nonce(signer.address)
        sig = sign_publish(signer, env.domain, token_id, published, nonce, deadline)
        return env.nft.functions.setPublishedWithSig(token_id, published, deadline, sig)

    env.chain.send(by(owner, True), env.relayer)
    env.chain.fund(customer.address)
    into = env.nft.functions.transferFrom(customer.address, escrow.address, token_id)
    env.chain.send(into, customer)
    assert env.nft.functions.isPublished(token_id).call()
    env.revert(by(owner, True), "TokenInEscrow")
    env.revert(by(Signer(escrow), False), "BadOwnerSignature")
    env.chain.send(by(owner, False), env.relayer)
    assert not env.nft.functions.isPublished(token_id).call()
    assert env.nonce(customer.address) == 2


# -- gasless approval for the Gallery -----------------------------------------------------


def test_approval_for_all_with_sig(env: Env, customer: LocalAccount) -> None:
    token_id = env.mint(customer.address)
    gallery = env.new_account()
    owner, deadline = Signer(customer), env.chain.block_time() + HOUR
    sig = sign_approval_for_all(owner, env.domain, gallery.address, True, 0, deadline)
    fn = env.nft.functions.setApprovalForAllWithSig(
        customer.address, gallery.address, True, 0, deadline, sig
    )
    receipt = env.chain.send(fn, env.relayer)
    assert env.nft.events.ApprovalForAll().process_receipt(receipt, errors=DISCARD)[0]["args"][
        "approved"
    ]
    assert env.nft.functions.isApprovedForAll(customer.address, gallery.address).call()
    env.revert(fn, "InvalidAccountNonce")  # replay
    buyer = Account.create().address
    env.chain.send(env.nft.functions.transferFrom(customer.address, buyer, token_id), gallery)
    assert env.nft.functions.ownerOf(token_id).call() == buyer


def test_approval_for_all_with_sig_rejects_bad_input(env: Env, customer: LocalAccount) -> None:
    gallery = Account.create().address
    owner, deadline = Signer(customer), env.chain.block_time() + HOUR
    approve = env.nft.functions.setApprovalForAllWithSig

    def signed(by: Signer, nonce: int, until: int) -> bytes:
        return sign_approval_for_all(by, env.domain, gallery, True, nonce, until)

    env.revert(
        approve(customer.address, gallery, True, 5, deadline, signed(owner, 5, deadline)),
        "InvalidAccountNonce",
    )
    stranger = Signer(env.new_account())
    env.revert(
        approve(customer.address, gallery, True, 0, deadline, signed(stranger, 0, deadline)),
        "BadOwnerSignature",
    )
    late = env.chain.block_time() - 1
    env.revert(
        approve(customer.address, gallery, True, 0, late, signed(owner, 0, late)),
        "SignatureExpired",
    )
    revoke = sign_approval_for_all(owner, env.domain, gallery, False, 0, deadline)
    env.chain.send(approve(customer.address, gallery, False, 0, deadline, revoke), env.relayer)
    assert not env.nft.functions.isApprovedForAll(customer.address, gallery).call()
    assert env.nonce(customer.address) == 1
