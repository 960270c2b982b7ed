"""Gallery on a real anvil node, with the real DigitalWon and PhotoNFT.

Signed orders (listing, offer, permit variants), the matcher's co-signature, on-chain cancel
and nonce bumps, English auctions with reserve, extension, refunds and settlement, the pull
fallback, freezes and appeals, fee and royalty limits, and the reentrancy guard. After every
sent transaction `GalleryEnv.check` asserts the escrow identity
(`DigitalWon.balanceOf(gallery) == totalBidEscrow + totalCredits`) and that the market neither
creates nor destroys DigitalWon.

Three paths cannot be reached with the real token and NFT (DigitalWon has no per-account
block, PhotoNFT caps royalties at 10%, neither calls back into the gallery): they run against
test-only contracts compiled at test time from tests/contracts/gallery_doubles/ (a token that
can refuse one receiver, an NFT with a 100% royalty, a buyer that re-enters). The gallery is
the same artifact in every test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from busanchain.chain.artifacts import Artifact, load_artifact, parse_artifact
from busanchain.chain.rpc import make_web3
from busanchain.chain.signing import Signer
from busanchain.gallery import market
from busanchain.studio import contracts as photo
from tests.conftest import REPO_ROOT, start_anvil
from tests.contracts.conftest import Chain, error_selector, expect_revert

MakeAccount = Callable[[], LocalAccount]
FEE_BPS = 250
ROYALTY_BPS = 500
PRICE = 123_457  # not a multiple of 10,000: fee and royalty round down
MINTER_ROLE = keccak(text="MINTER_ROLE")
ESCROW_ROLE = keccak(text="ESCROW_ROLE")
MODERATOR_ROLE = keccak(text="MODERATOR_ROLE")
REASON = keccak(text="report:theft:42")
DOUBLES = Path(__file__).resolve().parent / "gallery_doubles"
MAX_UINT = 2**256 - 1


def advance(chain: Chain, seconds: int) -> None:
    """Move the node's clock forward and mine a block."""
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def deploy_artifact(chain: Chain, artifact: Artifact, sender: LocalAccount, *args: Any) -> Contract:
    """Deploy `artifact` with constructor `args` from `sender`."""
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(*args).build_transaction(
        {"from": sender.address, "nonce": chain.w3.eth.get_transaction_count(sender.address)}
    )
    tx_hash = chain.w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, receipt
    return chain.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def deploy(chain: Chain, name: str, sender: LocalAccount, *args: Any) -> Contract:
    """Deploy the committed artifact `name`."""
    return deploy_artifact(chain, load_artifact(name), sender, *args)


@dataclass
class GalleryEnv:
    """DigitalWon, PhotoNFT and a Gallery deployed fresh, with the platform's accounts."""

    chain: Chain
    admin: LocalAccount
    studio: LocalAccount
    matcher: LocalAccount
    fee_recipient: str
    photographer: str
    token: Contract
    nft: Contract
    gallery: Contract
    new_account: MakeAccount
    won_holders: set[str] = field(default_factory=set)
    minted: int = 0
    voucher_id: int = 0

    @property
    def separator(self) -> bytes:
        return market.gallery_separator(self.chain.w3.eth.chain_id, self.gallery.address)

    def send(self, fn: ContractFunction, sender: LocalAccount | None = None) -> dict[str, Any]:
        receipt = self.chain.send(fn, sender or self.admin)
        self.check()
        return receipt

    def check(self) -> None:
        """Escrow identity, and DigitalWon supply equals minted money held by known accounts."""
        escrow = self.gallery.functions.totalBidEscrow().call()
        owed = self.gallery.functions.totalCredits().call()
        assert self.won(self.gallery.address) == escrow + owed
        assert self.token.functions.totalSupply().call() == self.minted
        held = sum(self.won(h) for h in self.won_holders | {self.gallery.address})
        assert held == self.minted

    # -- money and photos -------------------------------------------------------------------

    def won(self, holder: str) -> int:
        return int(self.token.functions.balanceOf(holder).call())

    def mint_won(self, to: str, amount: int) -> None:
        self.won_holders.add(to)
        self.minted += amount
        self.chain.send(self.token.functions.mint(to, amount, os.urandom(32)), self.admin)

    def account(self, won: int = 0) -> LocalAccount:
        """A fresh funded account holding `won` DigitalWon, gallery approved for both assets."""
        account = self.new_account()
        self.won_holders.add(account.address)
        if won:
            self.mint_won(account.address, won)
        self.chain.send(self.token.functions.approve(self.gallery.address, MAX_UINT), account)
        self.chain.send(self.nft.functions.setApprovalForAll(self.gallery.address, True), account)
        return account

    def photo(self, owner: str, bps: int = ROYALTY_BPS, receiver: str | None = None) -> int:
        """Lazy-mint a photo to `owner` through a studio voucher and a claim-key signature."""
        domain = photo.PhotoDomain(self.chain.w3.eth.chain_id, self.nft.address)
        key = photo.new_claim_key()
        self.voucher_id += 1
        voucher = photo.MintVoucher(
            content_hash=os.urandom(32),
            metadata_cid="bafkreimetadata",
            stub_cid="bafkreistub",
            royalty_receiver=receiver or self.photographer,
            royalty_bps=bps,
            expiry=self.chain.block_time() + 3_600,
            claim_key=key.address,
            voucher_id=self.voucher_id,
        )
        studio_sig = photo.sign_mint_voucher(Signer(self.studio), domain, voucher)
        claim_sig = photo.sign_claim(key.signer(), domain, voucher.voucher_id, owner)
        fn = self.nft.functions.claim(voucher.as_tuple(), studio_sig, owner, claim_sig)
        self.chain.send(fn, self.admin)
        self.won_holders.add(receiver or self.photographer)
        return int(self.nft.functions.totalMinted().call())

    # -- orders -------------------------------------------------------------------------------

    def order(
        self,
        maker: LocalAccount,
        side: int,
        token_id: int,
        price: int = PRICE,
        *,
        expiry: int | None = None,
        nonce: int | None = None,
        signer: LocalAccount | None = None,
    ) -> tuple[market.Order, bytes]:
        """A signed order (by `signer`, normally the maker)."""
        order = market.Order(
            maker=maker.address,
            side=side,
            token_id=token_id,
            price=price,
            expiry=expiry if expiry is not None else self.chain.block_time() + 86_400,
            nonce=nonce if nonce is not None else self.nonce(maker.address),
            salt=market.random_salt(),
        )
        return order, Signer(signer or maker).sign_digest(order.order_hash(self.separator))

    def nonce(self, maker: str) -> int:
        return int(self.gallery.functions.makerNonce(maker).call())

    def auth(
        self,
        order: market.Order,
        taker: str,
        *,
        deadline: int | None = None,
        matcher: LocalAccount | None = None,
    ) -> tuple[int, bytes]:
        """The matcher's co-signature letting `taker` fill `order`."""
        auth = market.FillAuth(
            order.order_hash(self.separator),
            taker,
            deadline if deadline is not None else self.chain.block_time() + 300,
        )
        return auth.as_tuple(
            market.sign_fill_auth(Signer(matcher or self.matcher), auth, self.separator)
        )

    def buy_fn(self, taker: str, order: market.Order, sig: bytes, **kw: Any) -> ContractFunction:
        return self.gallery.functions.buy(order.as_tuple(), sig, self.auth(order, taker, **kw))

    def accept_fn(self, taker: str, order: market.Order, sig: bytes) -> ContractFunction:
        auth = self.auth(order, taker)
        return self.gallery.functions.acceptOffer(order.as_tuple(), sig, auth)

    def permit(self, owner: LocalAccount, value: int) -> tuple[Any, ...]:
        nonce = int(self.token.functions.nonces(owner.address).call())
        message = market.PermitMessage(
            owner.address, self.gallery.address, value, nonce, self.chain.block_time() + 600
        )
        separator = market.token_separator(self.chain.w3.eth.chain_id, self.token.address)
        return market.sign_permit(Signer(owner), message, separator)

    def revert(
        self, fn: ContractFunction, sender: str, error: str, source: Contract | None = None
    ) -> None:
        expect_revert(source or self.gallery, fn, sender, error)

    # -- auctions -----------------------------------------------------------------------------

    def auction(
        self,
        seller: LocalAccount,
        token_id: int,
        reserve: int = 10_000,
        duration: int = 3_600,
        increment_bps: int = 500,
    ) -> int:
        now = self.chain.block_time()
        fn = self.gallery.functions.createAuction(
            token_id, reserve, 0, now + duration, increment_bps
        )
        self.send(fn, seller)
        return int(self.gallery.functions.auctionCount().call())

    def auction_of(self, auction_id: int) -> dict[str, Any]:
        names = [
            "seller", "startTime", "minIncrementBps", "state", "highestBidder", "endTime",
            "feeBps", "tokenId", "reserve", "highestBid",
        ]  # fmt: skip
        return dict(zip(names, self.gallery.functions.auctionOf(auction_id).call(), strict=True))


def sale_of(env: GalleryEnv, receipt: dict[str, Any]) -> Any:
    events = env.gallery.events.Sale().process_receipt(receipt, errors=DISCARD)
    assert len(events) == 1
    return events[0]["args"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[Chain]:
    """A private node: these tests move the chain's clock forward."""
    node = start_anvil(tmp_path_factory.mktemp("gallery-node"), anvil_binary)
    yield Chain(make_web3(node.config.rpc_url))
    node.stop(snapshot=False)


def make_env(chain: Chain, new_account: MakeAccount) -> GalleryEnv:
    """Deploy DigitalWon, PhotoNFT (one studio) and a Gallery (2.5% fee)."""
    admin, studio, matcher = new_account(), new_account(), new_account()
    fee_recipient, photographer = Account.create().address, Account.create().address
    token = deploy(chain, "DigitalWon", admin, admin.address)
    nft = deploy(chain, "PhotoNFT", admin, admin.address)
    chain.send(nft.functions.grantRole(MINTER_ROLE, studio.address), admin)
    gallery = deploy(
        chain, "Gallery", admin, admin.address, token.address, nft.address, fee_recipient,
        FEE_BPS, matcher.address,
    )  # fmt: skip
    chain.send(nft.functions.grantRole(ESCROW_ROLE, gallery.address), admin)  # as deploy_all
    env = GalleryEnv(
        chain, admin, studio, matcher, fee_recipient, photographer, token, nft, gallery,
        new_account,
    )  # fmt: skip
    env.won_holders.update({admin.address, fee_recipient, photographer})
    return env


@pytest.fixture
def env(chain: Chain, new_account: MakeAccount) -> GalleryEnv:
    return make_env(chain, new_account)


@pytest.fixture(scope="module")
def doubles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    """Compile the test-only contracts with the pinned solc-js (same script as the platform)."""
    root = tmp_path_factory.mktemp("gallery-doubles")
    (root / "contracts").mkdir()
    shutil.copy(DOUBLES / "GalleryDoubles.sol", root / "contracts")
    (root / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    node = shutil.which("node")
    assert node, "node is needed to compile the test contracts"
    script = REPO_ROOT / "scripts" / "build_contracts.mjs"
    subprocess.run([node, str(script), "--root", str(root)], check=True, capture_output=True)
    out = root / "src" / "busanchain" / "chain" / "artifacts"
    return {p.stem: parse_artifact(json.loads(p.read_text())) for p in out.glob("*.json")}


# -- deployment and hashing -----------------------------------------------------------------


def test_deployment_sets_roles_fee_and_links(env: GalleryEnv) -> None:
    g = env.gallery.functions
    assert g.hasRole(b"\x00" * 32, env.admin.address).call()
    assert g.hasRole(MODERATOR_ROLE, env.admin.address).call()
    assert g.feeBps().call() == FEE_BPS and g.MAX_FEE_BPS().call() == 1_000
    assert g.matcher().call() == env.matcher.address
    assert g.feeRecipient().call() == env.fee_recipient
    assert (g.token().call(), g.nft().call()) == (env.token.address, env.nft.address)
    assert g.eip712Domain().call()[1:5] == [
        "BusanGallery", "1", env.chain.w3.eth.chain_id, env.gallery.address,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fee", "zero_index", "error"),
    [
        (1_001, None, "FeeTooHigh"),
        (0, 0, "ZeroAddress"),
        (0, 3, "ZeroAddress"),
        (0, 5, "ZeroAddress"),
    ],
)
def test_deployment_rejects_bad_fee_and_zero_addresses(
    env: GalleryEnv, fee: int, zero_index: int | None, error: str
) -> None:
    args: list[Any] = [
        env.admin.address, env.token.address, env.nft.address, env.fee_recipient, fee,
        env.matcher.address,
    ]  # fmt: skip
    if zero_index is not None:
        args[zero_index] = "0x" + "00" * 20
    artifact = load_artifact("Gallery")
    factory = env.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    with pytest.raises(ContractCustomError) as caught:
        env.chain.w3.eth.call({"from": env.admin.address, "data": data})
    assert str(caught.value.data).startswith(error_selector(env.gallery, error))


def test_python_hashes_equal_the_contract(env: GalleryEnv) -> None:
    seller = env.account()
    order, _ = env.order(seller, market.SIDE_LISTING, 7, expiry=2**63, nonce=3)
    assert env.gallery.functions.hashOrder(order.as_tuple()).call() == order.order_hash(
        env.separator
    )
    auth = market.FillAuth(order.order_hash(env.separator), seller.address, 99)
    onchain = env.gallery.functions.hashFillAuth(auth.order_hash, auth.taker, 99).call()
    assert onchain == auth.digest(env.separator)
    assert env.token.functions.DOMAIN_SEPARATOR().call() == market.token_separator(
        env.chain.w3.eth.chain_id, env.token.address
    )


# -- listings -------------------------------------------------------------------------------


def test_buy_splits_the_price_exactly_and_moves_the_nft(env: GalleryEnv) -> None:
    seller, buyer = env.account(), env.account(won=PRICE)
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    receipt = env.send(env.buy_fn(buyer.address, order, sig), buyer)
    fee, royalty = PRICE * FEE_BPS // 10_000, PRICE * ROYALTY_BPS // 10_000
    assert (fee, royalty) == (3_086, 6_172)
    assert env.won(seller.address) == PRICE - fee - royalty
    assert env.won(env.photographer) == royalty
    assert env.won(env.fee_recipient) == fee
    assert env.won(buyer.address) == 0 and env.won(env.gallery.address) == 0
    assert env.nft.functions.ownerOf(token_id).call() == buyer.address
    sale = sale_of(env, receipt)
    assert sale["ref"] == order.order_hash(env.separator) and sale["kind"] == 0
    assert (sale["seller"], sale["buyer"], sale["tokenId"]) == (
        seller.address, buyer.address, token_id,
    )  # fmt: skip
    assert (sale["price"], sale["royalty"], sale["fee"]) == (PRICE, royalty, fee)
    assert sale["royaltyReceiver"] == env.photographer
    assert market.split_price(PRICE, FEE_BPS, royalty, env.photographer) == market.Split(
        PRICE - fee - royalty, royalty, fee
    )
    status = env.gallery.functions.orderStatus(order.order_hash(env.separator)).call()
    assert status == 1  # Filled
    quoted = env.gallery.functions.quote(token_id, PRICE).call()
    assert tuple(quoted) == (PRICE - fee - royalty, royalty, env.photographer, fee)


def test_a_filled_order_never_fills_again(env: GalleryEnv) -> None:
    seller, buyer = env.account(), env.account(won=3 * PRICE)
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    env.send(env.buy_fn(buyer.address, order, sig), buyer)
    env.send(env.nft.functions.transferFrom(buyer.address, seller.address, token_id), buyer)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "OrderNotOpen")


def test_buy_rejects_expired_zero_price_wrong_side_and_bad_signature(env: GalleryEnv) -> None:
    seller, buyer, other = env.account(), env.account(won=PRICE), env.account()
    token_id = env.photo(seller.address)
    now = env.chain.block_time()
    order, sig = env.order(seller, market.SIDE_LISTING, token_id, expiry=now - 1)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "OrderExpired")
    order, sig = env.order(seller, market.SIDE_LISTING, token_id, price=0)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "ZeroPrice")
    order, sig = env.order(seller, market.SIDE_OFFER, token_id)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "WrongSide")
    order, sig = env.order(seller, market.SIDE_LISTING, token_id, signer=other)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "InvalidOrderSignature")
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    tampered = market.Order(*order.as_tuple()[:3], PRICE - 1, *order.as_tuple()[4:])
    env.revert(env.buy_fn(buyer.address, tampered, sig), buyer.address, "InvalidOrderSignature")


def test_fill_needs_a_fresh_matcher_cosignature_for_this_taker(env: GalleryEnv) -> None:
    """Off-chain cancel: an order the matcher no longer co-signs cannot fill."""
    seller, buyer, other = env.account(), env.account(won=PRICE), env.account(won=PRICE)
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    g = env.gallery.functions
    no_auth = g.buy(order.as_tuple(), sig, (env.chain.block_time() + 60, b""))
    env.revert(no_auth, buyer.address, "InvalidFillAuth")
    forged = g.buy(order.as_tuple(), sig, env.auth(order, buyer.address, matcher=other))
    env.revert(forged, buyer.address, "InvalidFillAuth")
    for_other = g.buy(order.as_tuple(), sig, env.auth(order, other.address))
    env.revert(for_other, buyer.address, "InvalidFillAuth")
    now = env.chain.block_time()
    env.revert(
        env.buy_fn(buyer.address, order, sig, deadline=now - 1), buyer.address, "FillAuthExpired"
    )
    too_long = env.buy_fn(buyer.address, order, sig, deadline=now + 3 * 3_600)
    env.revert(too_long, buyer.address, "FillAuthTooLong")
    fn = env.buy_fn(buyer.address, order, sig)  # co-signed, then the co-signature expires
    advance(env.chain, 600)
    env.revert(fn, buyer.address, "FillAuthExpired")
    env.send(env.buy_fn(buyer.address, order, sig), buyer)


def test_matcher_change_invalidates_old_cosignatures(env: GalleryEnv) -> None:
    seller, buyer, new_matcher = env.account(), env.account(won=PRICE), env.new_account()
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    fn = env.buy_fn(buyer.address, order, sig)
    env.revert(env.gallery.functions.setMatcher(new_matcher.address), buyer.address,
               "AccessControlUnauthorizedAccount")  # fmt: skip
    env.send(env.gallery.functions.setMatcher(new_matcher.address))
    env.revert(fn, buyer.address, "InvalidFillAuth")
    auth = env.auth(order, buyer.address, matcher=new_matcher)
    env.send(env.gallery.functions.buy(order.as_tuple(), sig, auth), buyer)


def test_cancel_order_by_maker_only_and_forever(env: GalleryEnv) -> None:
    seller, buyer = env.account(), env.account(won=PRICE)
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    cancel = env.gallery.functions.cancelOrder(order.as_tuple())
    env.revert(cancel, buyer.address, "NotMaker")
    receipt = env.send(cancel, seller)
    logs = env.gallery.events.OrderCancelled().process_receipt(receipt, errors=DISCARD)
    assert logs[0]["args"]["orderHash"] == order.order_hash(env.separator)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "OrderNotOpen")
    env.revert(cancel, seller.address, "OrderNotOpen")


def test_increment_nonce_kills_every_older_order(env: GalleryEnv) -> None:
    seller, buyer = env.account(), env.account(won=2 * PRICE)
    first, second = env.photo(seller.address), env.photo(seller.address)
    orders = [env.order(seller, market.SIDE_LISTING, t) for t in (first, second)]
    receipt = env.send(env.gallery.functions.incrementNonce(), seller)
    logs = env.gallery.events.NonceIncremented().process_receipt(receipt, errors=DISCARD)
    assert logs[0]["args"]["newNonce"] == 1 == env.nonce(seller.address)
    for order, sig in orders:
        env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "StaleNonce")
    future, sig = env.order(seller, market.SIDE_LISTING, first, nonce=5)  # not pre-signable
    env.revert(env.buy_fn(buyer.address, future, sig), buyer.address, "StaleNonce")
    fresh, sig = env.order(seller, market.SIDE_LISTING, first)
    env.send(env.buy_fn(buyer.address, fresh, sig), buyer)


def test_stale_listing_self_trade_and_missing_approvals_revert(env: GalleryEnv) -> None:
    seller, buyer, poor = env.account(), env.account(won=PRICE), env.account()
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    env.revert(env.buy_fn(seller.address, order, sig), seller.address, "SelfTrade")
    env.revert(env.buy_fn(poor.address, order, sig), poor.address,
               "ERC20InsufficientBalance", env.token)  # fmt: skip
    env.send(env.nft.functions.setApprovalForAll(env.gallery.address, False), seller)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address,
               "ERC721InsufficientApproval", env.nft)  # fmt: skip
    env.send(env.nft.functions.setApprovalForAll(env.gallery.address, True), seller)
    env.send(env.token.functions.approve(env.gallery.address, 0), buyer)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address,
               "ERC20InsufficientAllowance", env.token)  # fmt: skip
    env.send(env.nft.functions.transferFrom(seller.address, poor.address, token_id), seller)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "StaleOrder")


def test_buy_with_permit_needs_one_transaction(env: GalleryEnv) -> None:
    seller, buyer = env.account(), env.new_account()
    env.won_holders.add(buyer.address)
    env.mint_won(buyer.address, PRICE)
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    assert env.token.functions.allowance(buyer.address, env.gallery.address).call() == 0
    permit = env.permit(buyer, PRICE)
    fn = env.gallery.functions.buyWithPermit(
        order.as_tuple(), sig, env.auth(order, buyer.address), permit
    )
    env.send(fn, buyer)
    assert env.nft.functions.ownerOf(token_id).call() == buyer.address
    assert env.won(buyer.address) == 0


def test_buy_with_a_used_permit_still_works_with_an_allowance(env: GalleryEnv) -> None:
    """A front-runner who submits the permit first cannot make the purchase fail."""
    seller, buyer = env.account(), env.new_account()
    env.mint_won(buyer.address, PRICE)
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    permit = env.permit(buyer, PRICE)
    front_run = env.token.functions.permit(buyer.address, env.gallery.address, *permit)
    env.send(front_run, env.admin)
    fn = env.gallery.functions.buyWithPermit(
        order.as_tuple(), sig, env.auth(order, buyer.address), permit
    )
    env.send(fn, buyer)
    assert env.nft.functions.ownerOf(token_id).call() == buyer.address


def test_a_seller_without_gas_lists_and_sells(env: GalleryEnv) -> None:
    """Listing costs no gas: a custodial owner (no ether at all) approves the gallery with a
    PhotoNFT `setApprovalForAllWithSig` the platform relays, then only signs the listing."""
    seller: LocalAccount = Account.create()
    assert env.chain.w3.eth.get_balance(seller.address) == 0
    buyer = env.account(won=PRICE)
    env.won_holders.add(seller.address)
    token_id = env.photo(seller.address)
    domain = photo.PhotoDomain(env.chain.w3.eth.chain_id, env.nft.address)
    deadline = env.chain.block_time() + 600
    nonce = env.nft.functions.nonces(seller.address).call()
    sig = photo.sign_approval_for_all(Signer(seller), domain, env.gallery.address, True, nonce,
                                      deadline)  # fmt: skip
    relay = env.nft.functions.setApprovalForAllWithSig(
        seller.address, env.gallery.address, True, nonce, deadline, sig
    )
    env.send(relay, env.admin)
    order, order_sig = env.order(seller, market.SIDE_LISTING, token_id)
    env.send(env.buy_fn(buyer.address, order, order_sig), buyer)
    assert env.nft.functions.ownerOf(token_id).call() == buyer.address
    assert env.won(seller.address) == 114_199  # 123,457 - 3,086 fee - 6,172 royalty
    assert env.chain.w3.eth.get_balance(seller.address) == 0


# -- offers ---------------------------------------------------------------------------------


def test_accept_offer_pays_the_owner_and_delivers_to_the_maker(env: GalleryEnv) -> None:
    owner, bidder = env.account(), env.account(won=PRICE)
    token_id = env.photo(owner.address, bps=1_000)
    order, sig = env.order(bidder, market.SIDE_OFFER, token_id)
    receipt = env.send(env.accept_fn(owner.address, order, sig), owner)
    fee, royalty = PRICE * FEE_BPS // 10_000, PRICE * 1_000 // 10_000
    assert env.won(owner.address) == PRICE - fee - royalty
    assert (env.won(env.photographer), env.won(env.fee_recipient)) == (royalty, fee)
    assert env.nft.functions.ownerOf(token_id).call() == bidder.address
    sale = sale_of(env, receipt)
    assert (sale["seller"], sale["buyer"], sale["kind"]) == (owner.address, bidder.address, 1)
    env.revert(env.accept_fn(bidder.address, order, sig), bidder.address, "OrderNotOpen")


def test_accept_offer_rejects_non_owner_listing_and_unfunded_maker(env: GalleryEnv) -> None:
    owner, bidder, stranger = env.account(), env.account(won=PRICE - 1), env.account()
    token_id = env.photo(owner.address)
    order, sig = env.order(bidder, market.SIDE_OFFER, token_id)
    env.revert(env.accept_fn(stranger.address, order, sig), stranger.address, "NotTokenOwner")
    env.revert(env.accept_fn(owner.address, order, sig), owner.address,
               "ERC20InsufficientBalance", env.token)  # fmt: skip
    listing, listing_sig = env.order(owner, market.SIDE_LISTING, token_id)
    env.revert(env.accept_fn(owner.address, listing, listing_sig), owner.address, "WrongSide")
    own, own_sig = env.order(owner, market.SIDE_OFFER, token_id)
    env.revert(env.accept_fn(owner.address, own, own_sig), owner.address, "SelfTrade")


# -- fees and royalties ---------------------------------------------------------------------


def test_fee_rate_is_admin_only_and_capped(env: GalleryEnv) -> None:
    g = env.gallery.functions
    outsider = env.account()
    env.revert(g.setFeeBps(500), outsider.address, "AccessControlUnauthorizedAccount")
    env.revert(g.setFeeBps(1_001), env.admin.address, "FeeTooHigh")
    env.revert(g.setFeeRecipient("0x" + "00" * 20), env.admin.address, "ZeroAddress")
    env.send(g.setFeeBps(1_000))
    seller, buyer = env.account(), env.account(won=PRICE)
    token_id = env.photo(seller.address, bps=1_000)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    receipt = env.send(env.buy_fn(buyer.address, order, sig), buyer)
    sale = sale_of(env, receipt)
    assert (sale["fee"], sale["royalty"]) == (PRICE // 10, PRICE // 10)
    env.send(g.setFeeBps(0))
    order, sig = env.order(buyer, market.SIDE_LISTING, token_id, price=1)
    env.send(env.buy_fn(seller.address, order, sig), seller)  # 1 won: no fee, no royalty
    assert env.won(buyer.address) == 1


def test_royalty_is_capped_so_proceeds_are_never_negative(
    chain: Chain, new_account: MakeAccount, doubles: dict[str, Artifact]
) -> None:
    env = make_env(chain, new_account)
    greedy = deploy_artifact(chain, doubles["GreedyRoyaltyNFT"], env.admin)
    env.gallery = deploy(
        chain, "Gallery", env.admin, env.admin.address, env.token.address, greedy.address,
        env.fee_recipient, 1_000, env.matcher.address,
    )  # fmt: skip
    env.nft = greedy
    seller, buyer = env.account(), env.account(won=2 * PRICE)
    chain.send(greedy.functions.mint(seller.address, 1, env.photographer, 10_000), env.admin)
    chain.send(greedy.functions.mint(seller.address, 2, "0x" + "00" * 20, 0), env.admin)
    order, sig = env.order(seller, market.SIDE_LISTING, 1)
    sale = sale_of(env, env.send(env.buy_fn(buyer.address, order, sig), buyer))
    fee = PRICE // 10
    assert (sale["fee"], sale["royalty"]) == (fee, PRICE - fee)
    assert env.won(seller.address) == 0 and env.won(env.photographer) == PRICE - fee
    assert market.split_price(PRICE, 1_000, PRICE, env.photographer).proceeds == 0
    order, sig = env.order(seller, market.SIDE_LISTING, 2)
    sale = sale_of(env, env.send(env.buy_fn(buyer.address, order, sig), buyer))
    assert (sale["royalty"], sale["royaltyReceiver"]) == (0, "0x" + "00" * 20)
    assert env.won(seller.address) == PRICE - fee


# -- freezes --------------------------------------------------------------------------------


def test_frozen_token_cannot_be_bought_or_sold_to_an_offer(env: GalleryEnv) -> None:
    owner, buyer = env.account(), env.account(won=PRICE)
    token_id = env.photo(owner.address)
    listing, listing_sig = env.order(owner, market.SIDE_LISTING, token_id)
    offer, offer_sig = env.order(buyer, market.SIDE_OFFER, token_id)
    g = env.gallery.functions
    env.revert(g.freeze(token_id, REASON), buyer.address, "AccessControlUnauthorizedAccount")
    env.revert(g.freeze(token_id, b"\x00" * 32), env.admin.address, "ZeroReason")
    receipt = env.send(g.freeze(token_id, REASON))
    frozen = env.gallery.events.Frozen().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (frozen["tokenId"], frozen["reasonCode"]) == (token_id, REASON)
    assert g.isFrozen(token_id).call() and g.frozenReason(token_id).call() == REASON
    env.revert(env.buy_fn(buyer.address, listing, listing_sig), buyer.address, "TokenFrozen")
    env.revert(env.accept_fn(owner.address, offer, offer_sig), owner.address, "TokenFrozen")
    env.revert(g.unfreeze(token_id), buyer.address, "AccessControlUnauthorizedAccount")
    env.send(g.unfreeze(token_id))
    env.revert(g.unfreeze(token_id), env.admin.address, "NotFrozen")
    env.send(env.buy_fn(buyer.address, listing, listing_sig), buyer)


def test_owner_appeals_a_freeze(env: GalleryEnv) -> None:
    owner, stranger = env.account(), env.account()
    token_id = env.photo(owner.address)
    g = env.gallery.functions
    env.revert(g.appeal(token_id), owner.address, "NotFrozen")
    env.send(g.freeze(token_id, REASON))
    env.revert(g.appeal(token_id), stranger.address, "NotTokenOwner")
    receipt = env.send(g.appeal(token_id), owner)
    appealed = env.gallery.events.Appealed().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (appealed["tokenId"], appealed["owner"]) == (token_id, owner.address)


# -- auctions -------------------------------------------------------------------------------


def test_auction_escrows_the_nft_and_settles_to_the_winner(env: GalleryEnv) -> None:
    seller, alice, bob = env.account(), env.account(won=50_000), env.account(won=50_000)
    token_id = env.photo(seller.address)
    auction_id = env.auction(seller, token_id, reserve=10_000, increment_bps=1_000)
    assert env.nft.functions.ownerOf(token_id).call() == env.gallery.address
    assert env.gallery.functions.activeAuctionOf(token_id).call() == auction_id
    assert env.gallery.functions.holderOf(token_id).call() == seller.address
    g = env.gallery.functions
    env.revert(g.bid(auction_id, 9_999), alice.address, "BidTooLow")
    env.revert(g.bid(auction_id, 10_000), seller.address, "SellerCannotBid")
    env.send(g.bid(auction_id, 10_000), alice)
    assert g.minNextBid(auction_id).call() == 11_000
    env.revert(g.bid(auction_id, 10_999), bob.address, "BidTooLow")
    env.send(g.bid(auction_id, 11_000), bob)
    assert env.won(alice.address) == 50_000  # refunded at once
    assert env.won(env.gallery.address) == 11_000
    env.revert(g.settleAuction(auction_id), alice.address, "AuctionNotEnded")
    env.revert(g.cancelAuction(auction_id), seller.address, "AuctionHasBids")
    advance(env.chain, 3_601)
    env.revert(g.bid(auction_id, 20_000), alice.address, "AuctionEnded")
    receipt = env.send(g.settleAuction(auction_id), alice)  # anyone may settle
    fee, royalty = 11_000 * FEE_BPS // 10_000, 11_000 * ROYALTY_BPS // 10_000
    assert env.won(seller.address) == 11_000 - fee - royalty
    assert (env.won(env.photographer), env.won(env.fee_recipient)) == (royalty, fee)
    assert env.won(bob.address) == 50_000 - 11_000
    assert env.nft.functions.ownerOf(token_id).call() == bob.address
    assert env.won(env.gallery.address) == 0
    assert env.nft.functions.balanceOf(env.gallery.address).call() == 0
    assert g.totalBidEscrow().call() == 0 and g.activeAuctionOf(token_id).call() == 0
    sale = sale_of(env, receipt)
    assert sale["ref"] == auction_id.to_bytes(32, "big") and sale["kind"] == 2
    assert (sale["price"], sale["royalty"], sale["fee"]) == (11_000, royalty, fee)
    assert env.auction_of(auction_id)["state"] == 2  # Settled
    env.revert(g.settleAuction(auction_id), alice.address, "AuctionNotLive")


def test_an_auctioned_work_stays_published_until_a_winner_takes_it(env: GalleryEnv) -> None:
    seller, alice = env.account(), env.account(won=50_000)
    first, second = env.photo(seller.address), env.photo(seller.address)
    nft, g = env.nft.functions, env.gallery.functions
    for token_id in (first, second):
        env.send(nft.setPublished(token_id, True), seller)
    cancelled = env.auction(seller, first)
    assert nft.isPublished(first).call() and nft.escrowedFrom(first).call() == seller.address
    env.send(g.cancelAuction(cancelled), seller)
    assert nft.isPublished(first).call()  # back to the seller: still published
    sold = env.auction(seller, second)
    assert nft.isPublished(second).call()
    env.send(g.bid(sold, 10_000), alice)
    advance(env.chain, 3_601)
    env.send(g.settleAuction(sold), alice)
    assert nft.ownerOf(second).call() == alice.address
    assert not nft.isPublished(second).call()  # a new owner decides afresh
    assert nft.escrowedFrom(second).call() == "0x" + "00" * 20


def test_minimum_raise_rounds_up_and_is_at_least_one_won(env: GalleryEnv) -> None:
    seller, alice, bob = env.account(), env.account(won=100), env.account(won=100)
    first, second = env.photo(seller.address), env.photo(seller.address)
    g = env.gallery.functions
    auction_id = env.auction(seller, first, reserve=7, increment_bps=1_000)
    env.send(g.bid(auction_id, 7), alice)
    assert g.minNextBid(auction_id).call() == 8 == market.min_next_bid(7, 7, True, 1_000)
    flat = env.auction(seller, second, reserve=5, increment_bps=0)
    env.send(g.bid(flat, 5), bob)
    assert g.minNextBid(flat).call() == 6
    env.revert(g.bid(flat, 5), alice.address, "BidTooLow")


def test_a_late_bid_extends_the_end(env: GalleryEnv) -> None:
    seller, alice, bob = env.account(), env.account(won=50_000), env.account(won=50_000)
    token_id = env.photo(seller.address)
    auction_id = env.auction(seller, token_id, duration=3_600)
    end = env.auction_of(auction_id)["endTime"]
    env.send(env.gallery.functions.bid(auction_id, 10_000), alice)
    assert env.auction_of(auction_id)["endTime"] == end  # not in the last 10 minutes
    advance(env.chain, 3_600 - 120)
    receipt = env.send(env.gallery.functions.bid(auction_id, 20_000), bob)
    now = env.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    new_end = env.auction_of(auction_id)["endTime"]
    assert new_end == now + 600 > end
    logs = env.gallery.events.AuctionExtended().process_receipt(receipt, errors=DISCARD)
    assert logs[0]["args"]["endTime"] == new_end
    advance(env.chain, 300)
    env.send(env.gallery.functions.bid(auction_id, 30_000), alice)  # after the old end
    advance(env.chain, 601)
    env.send(env.gallery.functions.settleAuction(auction_id), bob)
    assert env.nft.functions.ownerOf(token_id).call() == alice.address


def test_auction_without_bids_returns_the_nft(env: GalleryEnv) -> None:
    seller = env.account()
    token_id = env.photo(seller.address)
    auction_id = env.auction(seller, token_id)
    advance(env.chain, 3_601)
    receipt = env.send(env.gallery.functions.settleAuction(auction_id), seller)
    settled = env.gallery.events.AuctionSettled().process_receipt(receipt, errors=DISCARD)
    assert settled[0]["args"]["winner"] == "0x" + "00" * 20
    assert not env.gallery.events.Sale().process_receipt(receipt, errors=DISCARD)
    assert env.nft.functions.ownerOf(token_id).call() == seller.address


def test_seller_cancels_only_before_the_first_bid(env: GalleryEnv) -> None:
    seller, alice = env.account(), env.account(won=50_000)
    first, second = env.photo(seller.address), env.photo(seller.address)
    g = env.gallery.functions
    auction_id = env.auction(seller, first)
    env.revert(g.cancelAuction(auction_id), alice.address, "NotSeller")
    env.send(g.cancelAuction(auction_id), seller)
    assert env.nft.functions.ownerOf(first).call() == seller.address
    assert env.auction_of(auction_id)["state"] == 3  # Cancelled
    env.revert(g.bid(auction_id, 10_000), alice.address, "AuctionNotLive")
    env.revert(g.cancelAuction(auction_id), seller.address, "AuctionNotLive")
    second_id = env.auction(seller, second)
    env.send(g.bid(second_id, 10_000), alice)
    env.revert(g.cancelAuction(second_id), seller.address, "AuctionHasBids")


def test_create_auction_rejects_bad_parameters(env: GalleryEnv) -> None:
    seller, stranger = env.account(), env.account()
    token_id = env.photo(seller.address)
    g = env.gallery.functions
    now = env.chain.block_time()
    env.revert(g.createAuction(token_id, 1, 0, now + 100, 0), stranger.address, "NotTokenOwner")
    env.revert(g.createAuction(token_id, 0, 0, now + 100, 0), seller.address, "ZeroPrice")
    for start, end, bps in [(0, now - 1, 0), (now + 200, now + 100, 0), (0, now + 91 * 86_400, 0),
                            (0, now + 100, 10_001)]:  # fmt: skip
        env.revert(g.createAuction(token_id, 1, start, end, bps), seller.address, "InvalidAuction")
    env.send(g.freeze(token_id, REASON))
    env.revert(g.createAuction(token_id, 1, 0, now + 100, 0), seller.address, "TokenFrozen")
    env.send(g.unfreeze(token_id))
    env.send(env.nft.functions.setApprovalForAll(env.gallery.address, False), seller)
    env.revert(g.createAuction(token_id, 1, 0, now + 100, 0), seller.address,
               "ERC721InsufficientApproval", env.nft)  # fmt: skip


def test_bids_wait_for_the_start(env: GalleryEnv) -> None:
    seller, alice = env.account(), env.account(won=50_000)
    token_id = env.photo(seller.address)
    now = env.chain.block_time()
    env.send(env.gallery.functions.createAuction(token_id, 100, now + 600, now + 1_200, 0), seller)
    auction_id = int(env.gallery.functions.auctionCount().call())
    env.revert(env.gallery.functions.bid(auction_id, 100), alice.address, "AuctionNotStarted")
    advance(env.chain, 601)
    env.send(env.gallery.functions.bid(auction_id, 100), alice)


def test_bid_with_permit(env: GalleryEnv) -> None:
    seller, alice = env.account(), env.new_account()
    env.mint_won(alice.address, 20_000)
    token_id = env.photo(seller.address)
    auction_id = env.auction(seller, token_id)
    fn = env.gallery.functions.bidWithPermit(auction_id, 12_000, env.permit(alice, 12_000))
    env.send(fn, alice)
    assert env.auction_of(auction_id)["highestBidder"] == alice.address
    assert env.won(env.gallery.address) == 12_000


def test_auction_keeps_the_fee_rate_of_its_creation(env: GalleryEnv) -> None:
    seller, alice = env.account(), env.account(won=50_000)
    token_id = env.photo(seller.address)
    auction_id = env.auction(seller, token_id)
    env.send(env.gallery.functions.setFeeBps(1_000))
    env.send(env.gallery.functions.bid(auction_id, 40_000), alice)
    advance(env.chain, 3_601)
    sale = sale_of(env, env.send(env.gallery.functions.settleAuction(auction_id), alice))
    assert sale["fee"] == 40_000 * FEE_BPS // 10_000


def test_frozen_auction_cannot_take_bids_or_settle_and_moderator_cancels(env: GalleryEnv) -> None:
    seller, alice = env.account(), env.account(won=50_000)
    token_id = env.photo(seller.address)
    auction_id = env.auction(seller, token_id)
    g = env.gallery.functions
    env.send(g.bid(auction_id, 10_000), alice)
    env.revert(g.cancelFrozenAuction(auction_id), env.admin.address, "NotFrozen")
    env.send(g.freeze(token_id, REASON))
    env.revert(g.bid(auction_id, 20_000), alice.address, "TokenFrozen")
    receipt = env.send(g.appeal(token_id), seller)  # the escrowed token's seller may appeal
    assert env.gallery.events.Appealed().process_receipt(receipt, errors=DISCARD)
    advance(env.chain, 3_601)
    env.revert(g.settleAuction(auction_id), alice.address, "TokenFrozen")
    env.revert(g.cancelFrozenAuction(auction_id), alice.address, "AccessControlUnauthorizedAccount")
    env.send(g.cancelFrozenAuction(auction_id))
    assert env.won(alice.address) == 50_000
    assert env.nft.functions.ownerOf(token_id).call() == seller.address
    assert env.won(env.gallery.address) == 0 and g.totalBidEscrow().call() == 0
    assert env.auction_of(auction_id)["state"] == 3


def test_frozen_auction_without_bids_still_returns_the_nft(env: GalleryEnv) -> None:
    seller = env.account()
    token_id = env.photo(seller.address)
    auction_id = env.auction(seller, token_id)
    env.send(env.gallery.functions.freeze(token_id, REASON))
    env.send(env.gallery.functions.cancelFrozenAuction(auction_id))
    assert env.nft.functions.ownerOf(token_id).call() == seller.address


def test_listing_of_an_escrowed_token_is_stale(env: GalleryEnv) -> None:
    seller, buyer = env.account(), env.account(won=PRICE)
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    env.auction(seller, token_id)
    env.revert(env.buy_fn(buyer.address, order, sig), buyer.address, "StaleOrder")


# -- pull fallback and reentrancy (test-only contracts) -------------------------------------


def test_failed_refunds_and_payouts_are_credited_for_withdrawal(
    chain: Chain, new_account: MakeAccount, doubles: dict[str, Artifact]
) -> None:
    env = make_env(chain, new_account)
    blockable = deploy_artifact(chain, doubles["BlockableWon"], env.admin)
    env.token = blockable
    env.gallery = deploy(
        chain, "Gallery", env.admin, env.admin.address, blockable.address, env.nft.address,
        env.fee_recipient, FEE_BPS, env.matcher.address,
    )  # fmt: skip
    chain.send(env.nft.functions.grantRole(ESCROW_ROLE, env.gallery.address), env.admin)
    seller, alice, bob = env.account(), env.new_account(), env.new_account()
    for bidder in (alice, bob):
        env.won_holders.add(bidder.address)
        env.minted += 50_000
        chain.send(blockable.functions.mint(bidder.address, 50_000), env.admin)
        chain.send(blockable.functions.approve(env.gallery.address, MAX_UINT), bidder)
    token_id = env.photo(seller.address)
    auction_id = env.auction(seller, token_id)
    g = env.gallery.functions
    env.send(g.bid(auction_id, 10_000), alice)
    chain.send(blockable.functions.setBlocked(alice.address, True), env.admin)
    receipt = env.send(g.bid(auction_id, 20_000), bob)
    credited = env.gallery.events.Credited().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (credited["payee"], credited["amount"]) == (alice.address, 10_000)
    assert g.credits(alice.address).call() == 10_000
    assert env.won(env.gallery.address) == 30_000 == g.totalBidEscrow().call() + 10_000
    chain.send(blockable.functions.setBlocked(seller.address, True), env.admin)
    advance(chain, 3_601)
    env.send(g.settleAuction(auction_id), bob)  # the blocked seller cannot stall settlement
    fee, royalty = 20_000 * FEE_BPS // 10_000, 20_000 * ROYALTY_BPS // 10_000
    assert g.credits(seller.address).call() == 20_000 - fee - royalty
    assert env.nft.functions.ownerOf(token_id).call() == bob.address
    env.revert(g.withdraw(alice.address), alice.address, "Blocked", blockable)
    env.revert(g.withdraw(bob.address), bob.address, "NothingToWithdraw")
    env.revert(g.withdraw("0x" + "00" * 20), alice.address, "ZeroAddress")
    receipt = env.send(g.withdraw(bob.address), alice)  # to an address that can receive
    assert env.won(bob.address) == 30_000 + 10_000
    chain.send(blockable.functions.setBlocked(seller.address, False), env.admin)
    env.send(g.withdraw(seller.address), seller)
    assert env.won(seller.address) == 20_000 - fee - royalty
    assert env.won(env.gallery.address) == 0 and g.totalCredits().call() == 0


def test_reentry_from_the_nft_receiver_is_refused(
    chain: Chain, new_account: MakeAccount, doubles: dict[str, Artifact]
) -> None:
    env = make_env(chain, new_account)
    seller = env.account()
    attacker = deploy_artifact(
        chain, doubles["ReentrantBuyer"], env.admin, env.gallery.address, env.token.address
    )
    env.mint_won(attacker.address, PRICE)
    token_id = env.photo(seller.address)
    order, sig = env.order(seller, market.SIDE_LISTING, token_id)
    fn = attacker.functions.attack(order.as_tuple(), sig, env.auth(order, attacker.address))
    with pytest.raises(ContractCustomError) as caught:
        fn.call({"from": env.admin.address})
    assert str(caught.value.data).startswith(
        error_selector(env.gallery, "ReentrancyGuardReentrantCall")
    )
    assert env.nft.functions.ownerOf(token_id).call() == seller.address


def test_plain_transfers_of_nfts_into_the_gallery_are_refused(env: GalleryEnv) -> None:
    owner = env.account()
    token_id = env.photo(owner.address)
    fn = env.nft.functions.safeTransferFrom(owner.address, env.gallery.address, token_id)
    env.revert(fn, owner.address, "ERC721InvalidReceiver", env.nft)
