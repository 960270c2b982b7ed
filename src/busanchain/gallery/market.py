"""EIP-712 messages of the Gallery market: orders, the matcher's fill co-signature, permits.

One implementation for the services and the tests. A maker signs an `Order` (a listing sells,
an offer buys); the platform's matcher key co-signs each fill with a short-lived
`FillAuth(orderHash, taker, deadline)`, and refuses to for an order cancelled off chain. The
domain is ("BusanGallery", "1", chainId, gallery address); the order hash is the full EIP-712
digest, as the contract's `hashOrder` returns it, and `FillAuth.digest` equals its
`hashFillAuth` (both checked against the chain in tests/contracts/test_gallery.py).

`split_price` mirrors the contract's settlement arithmetic, so a page can show the seller what
they will receive: fee = floor(price * feeBps / 10000), royalty capped at price - fee.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from busanchain.chain.signing import Signer

GALLERY = "Gallery"
DOMAIN_NAME = "BusanGallery"
DOMAIN_VERSION = "1"
SIDE_LISTING = 0
SIDE_OFFER = 1
BPS = 10_000
MAX_FEE_BPS = 1_000  # Gallery.MAX_FEE_BPS: 10%
EXTENSION_S = 600  # Gallery.EXTENSION: a bid in the last 10 minutes extends the end
MAX_FILL_AUTH_TTL_S = 3_600  # Gallery.MAX_FILL_AUTH_TTL
TOKEN_DOMAIN_NAME = "DigitalWon"  # noqa: S105 (a contract name) ERC20Permit("DigitalWon"), version "1"

DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
ORDER_FIELD_TYPES = ["address", "uint8", "uint256", "uint256", "uint64", "uint256", "uint256"]
ORDER_TYPEHASH = keccak(
    text="Order(address maker,uint8 side,uint256 tokenId,uint256 price,uint64 expiry,"
    "uint256 nonce,uint256 salt)"
)
FILL_AUTH_TYPEHASH = keccak(text="FillAuth(bytes32 orderHash,address taker,uint64 deadline)")
PERMIT_TYPEHASH = keccak(
    text="Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
)


def domain_separator(name: str, chain_id: int, contract: str, version: str = "1") -> bytes:
    """An EIP-712 domain separator (name, version, chainId, verifyingContract)."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, keccak(text=name), keccak(text=version), chain_id, contract],
        )
    )


def gallery_separator(chain_id: int, gallery: str) -> bytes:
    """The domain separator of a Gallery deployment."""
    return domain_separator(DOMAIN_NAME, chain_id, gallery, DOMAIN_VERSION)


def _digest(separator: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + separator + struct_hash)


def random_salt() -> int:
    """A random 256-bit salt, so that two equal orders get different hashes."""
    return secrets.randbits(256)


@dataclass(frozen=True)
class Order:
    """A signed fixed-price order (the contract's `Order` struct).

    `side` is SIDE_LISTING (the maker sells) or SIDE_OFFER (the maker buys); `expiry` is the
    first second at which the order is no longer valid; `nonce` must equal the maker's
    `makerNonce` on chain when the order fills.
    """

    maker: str
    side: int
    token_id: int
    price: int
    expiry: int
    nonce: int
    salt: int

    def struct_hash(self) -> bytes:
        """hashStruct(Order)."""
        return keccak(
            encode(
                ["bytes32", *ORDER_FIELD_TYPES],
                [
                    ORDER_TYPEHASH,
                    self.maker,
                    self.side,
                    self.token_id,
                    self.price,
                    self.expiry,
                    self.nonce,
                    self.salt,
                ],
            )
        )

    def order_hash(self, separator: bytes) -> bytes:
        """The order hash: the EIP-712 digest the maker signs (`Gallery.hashOrder`)."""
        return _digest(separator, self.struct_hash())

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as `buy`, `acceptOffer` and `cancelOrder` take it."""
        return (
            self.maker,
            self.side,
            self.token_id,
            self.price,
            self.expiry,
            self.nonce,
            self.salt,
        )


def listing(maker: str, token_id: int, price: int, expiry: int, nonce: int) -> Order:
    """A listing (sell order) with a random salt."""
    return Order(maker, SIDE_LISTING, token_id, price, expiry, nonce, random_salt())


def offer(maker: str, token_id: int, price: int, expiry: int, nonce: int) -> Order:
    """An offer (buy order) with a random salt."""
    return Order(maker, SIDE_OFFER, token_id, price, expiry, nonce, random_salt())


def sign_order(maker: Signer, order: Order, separator: bytes) -> bytes:
    """The maker's 65-byte signature over an order."""
    if maker.address.lower() != order.maker.lower():
        raise ValueError("only the maker can sign its order")
    return maker.sign_digest(order.order_hash(separator))


@dataclass(frozen=True)
class FillAuth:
    """The matcher's permission for `taker` to fill the order `order_hash` until `deadline`."""

    order_hash: bytes
    taker: str
    deadline: int

    def digest(self, separator: bytes) -> bytes:
        """The EIP-712 digest the matcher signs (`Gallery.hashFillAuth`)."""
        return _digest(
            separator,
            keccak(
                encode(
                    ["bytes32", "bytes32", "address", "uint64"],
                    [FILL_AUTH_TYPEHASH, self.order_hash, self.taker, self.deadline],
                )
            ),
        )

    def as_tuple(self, signature: bytes) -> tuple[int, bytes]:
        """The `FillAuthorization` struct (deadline, signature) the fill functions take."""
        return (self.deadline, signature)


def sign_fill_auth(matcher: Signer, auth: FillAuth, separator: bytes) -> bytes:
    """The matcher's 65-byte co-signature of one fill."""
    return matcher.sign_digest(auth.digest(separator))


@dataclass(frozen=True)
class PermitMessage:
    """An EIP-2612 DigitalWon permit from `owner` to the gallery (`spender`)."""

    owner: str
    spender: str
    value: int
    nonce: int
    deadline: int

    def digest(self, token_separator: bytes) -> bytes:
        """The EIP-712 digest the owner signs."""
        return _digest(
            token_separator,
            keccak(
                encode(
                    ["bytes32", "address", "address", "uint256", "uint256", "uint256"],
                    [
                        PERMIT_TYPEHASH,
                        self.owner,
                        self.spender,
                        self.value,
                        self.nonce,
                        self.deadline,
                    ],
                )
            ),
        )


def token_separator(chain_id: int, token: str) -> bytes:
    """The domain separator of the DigitalWon deployment (for permits)."""
    return domain_separator(TOKEN_DOMAIN_NAME, chain_id, token)


def sign_permit(owner: Signer, permit: PermitMessage, separator: bytes) -> tuple[Any, ...]:
    """The `Permit` struct (value, deadline, v, r, s) that `buyWithPermit`/`bidWithPermit` take."""
    if owner.address.lower() != permit.owner.lower():
        raise ValueError("only the owner can sign its permit")
    signature = owner.sign_digest(permit.digest(separator))
    return (permit.value, permit.deadline, signature[64], signature[:32], signature[32:64])


@dataclass(frozen=True)
class Split:
    """How a price splits; the parts always add up to the price."""

    proceeds: int
    royalty: int
    fee: int

    @property
    def price(self) -> int:
        """proceeds + royalty + fee."""
        return self.proceeds + self.royalty + self.fee


def split_price(price: int, fee_bps: int, royalty: int, royalty_receiver: str | None) -> Split:
    """The contract's split: fee rounded down, royalty (0 without receiver) capped at price - fee.

    Args:
        price: Sale price in won.
        fee_bps: Platform fee rate in basis points.
        royalty: What the NFT's `royaltyInfo` reports for this price.
        royalty_receiver: The reported receiver; None or the zero address means no royalty.
    """
    fee = price * fee_bps // BPS
    if not royalty_receiver or int(royalty_receiver, 16) == 0:
        royalty = 0
    royalty = min(royalty, price - fee)
    return Split(proceeds=price - fee - royalty, royalty=royalty, fee=fee)


def min_next_bid(reserve: int, highest: int, has_bid: bool, min_increment_bps: int) -> int:
    """The lowest bid an auction accepts (mirrors `Gallery.minNextBid`)."""
    if not has_bid:
        return reserve
    raise_ = (highest * min_increment_bps + BPS - 1) // BPS
    return highest + max(raise_, 1)
