"""A real PhotoNFT + Gallery market for the provenance tests.

The platform's DeploymentService deploys DigitalWon, PhotoNFT and Gallery (the operator is
admin, moderator, fee recipient and matcher). Photos are minted by a studio voucher claimed
with a claim-key signature (studio/contracts.py); listings are signed orders co-signed by the
matcher (gallery/market.py). Every transaction is signed here and sent straight to the
contracts, as a wallet would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from busanchain.chain.artifacts import load_artifact
from busanchain.chain.rpc import make_web3
from busanchain.chain.signing import Signer, signer_from_key
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY
from busanchain.deployment.service import GALLERY_FEE_BPS, DeploymentService
from busanchain.gallery import market
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.studio import contracts as photo

MINTER_ROLE = keccak(text="MINTER_ROLE")
ROYALTY_BPS = 500
MAX_UINT = 2**256 - 1
ONE_ETHER = 10**18


@dataclass(frozen=True)
class Split:
    """The exact split the contract makes of a price (computed independently)."""

    price: int
    royalty: int
    fee: int

    @property
    def proceeds(self) -> int:
        """What the seller receives."""
        return self.price - self.royalty - self.fee


def split_of(price: int) -> Split:
    """2.5% fee and 5% royalty, both rounded down."""
    return Split(price, price * ROYALTY_BPS // 10_000, price * GALLERY_FEE_BPS // 10_000)


@dataclass
class NftMarket:
    """The deployed contracts and the accounts that use them."""

    w3: Web3
    operator: LocalAccount
    studio: LocalAccount
    photographer: str
    token: Contract
    nft: Contract
    gallery: Contract
    vouchers: int = 0
    people: dict[str, LocalAccount] = field(default_factory=dict)

    # -- plumbing ---------------------------------------------------------------------------

    def send(self, fn: ContractFunction, sender: LocalAccount) -> dict[str, Any]:
        """Sign `fn` with `sender`'s key, send it and wait for a successful receipt."""
        tx = fn.build_transaction(
            {"from": sender.address, "nonce": self.w3.eth.get_transaction_count(sender.address)}
        )
        raw = sender.sign_transaction(tx).raw_transaction
        tx_hash = self.w3.eth.send_raw_transaction(raw)
        receipt = dict(self.w3.eth.wait_for_transaction_receipt(tx_hash))
        assert receipt["status"] == 1, receipt
        receipt["hash"] = "0x" + bytes(receipt["transactionHash"]).hex()
        return receipt

    def person(self, name: str, won: int = 0) -> LocalAccount:
        """A funded account with `won` DigitalWon, approving the gallery for both assets."""
        account: LocalAccount = Account.create()
        self.w3.provider.make_request("anvil_setBalance", [account.address, hex(ONE_ETHER)])  # type: ignore[arg-type]
        if won:
            mint = self.token.functions.mint(account.address, won, os.urandom(32))
            self.send(mint, self.operator)
        self.send(self.token.functions.approve(self.gallery.address, MAX_UINT), account)
        self.send(self.nft.functions.setApprovalForAll(self.gallery.address, True), account)
        self.people[name] = account
        return account

    def now(self) -> int:
        """The latest block's time."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def won(self, holder: str) -> int:
        """A DigitalWon balance."""
        return int(self.token.functions.balanceOf(holder).call())

    # -- market actions ---------------------------------------------------------------------

    def claim(self, owner: str) -> tuple[int, str]:
        """Lazy-mint a photo to `owner` (studio voucher + claim key); returns (token id, tx)."""
        domain = photo.PhotoDomain(self.w3.eth.chain_id, self.nft.address)
        key = photo.new_claim_key()
        self.vouchers += 1
        voucher = photo.MintVoucher(
            content_hash=os.urandom(32),
            metadata_cid="bafkreiprovenancemetadata",
            stub_cid="bafkreiprovenancestub",
            royalty_receiver=self.photographer,
            royalty_bps=ROYALTY_BPS,
            expiry=self.now() + 3_600,
            claim_key=key.address,
            voucher_id=self.vouchers,
        )
        studio_sig = photo.sign_mint_voucher(Signer(self.studio), domain, voucher)
        claim_sig = photo.sign_claim(key.signer(), domain, voucher.voucher_id, owner)
        fn = self.nft.functions.claim(voucher.as_tuple(), studio_sig, owner, claim_sig)
        receipt = self.send(fn, self.operator)
        return int(self.nft.functions.totalMinted().call()), receipt["hash"]

    def buy(self, seller: LocalAccount, buyer: LocalAccount, token_id: int, price: int) -> str:
        """`seller` lists the token (signed order), `buyer` fills it; returns (tx hash)."""
        separator = market.gallery_separator(self.w3.eth.chain_id, self.gallery.address)
        nonce = int(self.gallery.functions.makerNonce(seller.address).call())
        order = market.listing(seller.address, token_id, price, self.now() + 86_400, nonce)
        signature = market.sign_order(Signer(seller), order, separator)
        auth = market.FillAuth(order.order_hash(separator), buyer.address, self.now() + 300)
        cosigned = auth.as_tuple(market.sign_fill_auth(Signer(self.operator), auth, separator))
        fn = self.gallery.functions.buy(order.as_tuple(), signature, cosigned)
        return str(self.send(fn, buyer)["hash"])

    def order_hash_of(self, tx_hash: str) -> str:
        """The `ref` of the Sale event a transaction emitted."""
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        (sale,) = self.gallery.events.Sale().process_receipt(receipt, errors=DISCARD)
        return "0x" + bytes(sale["args"]["ref"]).hex()

    def give(self, owner: LocalAccount, to: str, token_id: int) -> str:
        """A plain ERC-721 transfer; returns the tx hash."""
        fn = self.nft.functions.transferFrom(owner.address, to, token_id)
        return str(self.send(fn, owner)["hash"])

    def auction(self, seller: LocalAccount, token_id: int, reserve: int) -> int:
        """Start a one-hour auction; returns its id."""
        fn = self.gallery.functions.createAuction(token_id, reserve, 0, self.now() + 3_600, 500)
        self.send(fn, seller)
        return int(self.gallery.functions.auctionCount().call())

    def advance(self, seconds: int) -> None:
        """Move the node's clock forward and mine a block."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def deploy_market(context: PlatformContext, rpc_url: str) -> NftMarket:
    """Deploy through the platform, register a studio, and return the market."""
    operator_signer = signer_from_key(ANVIL_DEFAULT_OPERATOR_KEY)
    addresses = DeploymentService(context, OutboxService(context)).deploy_all(operator_signer)
    w3 = make_web3(rpc_url)
    operator: LocalAccount = Account.from_key(ANVIL_DEFAULT_OPERATOR_KEY)

    def contract(name: str) -> Contract:
        return w3.eth.contract(address=addresses[name], abi=load_artifact(name).abi)

    studio: LocalAccount = Account.create()
    built = NftMarket(
        w3=w3,
        operator=operator,
        studio=studio,
        photographer=Account.create().address,
        token=contract("DigitalWon"),
        nft=contract("PhotoNFT"),
        gallery=contract("Gallery"),
    )
    built.send(built.nft.functions.grantRole(MINTER_ROLE, studio.address), operator)
    return built
