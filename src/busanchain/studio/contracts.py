"""EIP-712 messages of the PhotoNFT contract: typed-data builders and signers.

One implementation for the services and the tests: a studio signs a `MintVoucher`, the
customer's claim key signs a `Claim`, and an owner signs `Publish` and `ApprovalForAll`
(gasless actions the platform's relayer submits). The domain is ("PhotoNFT", "1", chainId,
contract address), and the digests equal the contract's `voucherDigest`, `claimDigest`,
`publishDigest` and `approvalForAllDigest` views (checked in tests/contracts/test_photonft.py).

The claim code given to a customer (QR code or link) is the private key of a fresh claim key:
whoever holds it can choose where the NFT goes, and nobody else can redirect the claim.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from busanchain.chain.signing import EIP712_DOMAIN_TYPE, Signer
from busanchain.domain.errors import ValidationFailed

PHOTO_NFT = "PhotoNFT"
DOMAIN_NAME = "PhotoNFT"
DOMAIN_VERSION = "1"
MAX_ROYALTY_BPS = 1_000  # PhotoNFT.MAX_ROYALTY_BPS: 10%
ROYALTY_DENOMINATOR = 10_000

MINT_VOUCHER_TYPE: list[dict[str, str]] = [
    {"name": "contentHash", "type": "bytes32"},
    {"name": "metadataCid", "type": "string"},
    {"name": "stubCid", "type": "string"},
    {"name": "royaltyReceiver", "type": "address"},
    {"name": "royaltyBps", "type": "uint96"},
    {"name": "expiry", "type": "uint64"},
    {"name": "claimKey", "type": "address"},
    {"name": "voucherId", "type": "uint256"},
]
CLAIM_TYPE: list[dict[str, str]] = [
    {"name": "voucherId", "type": "uint256"},
    {"name": "to", "type": "address"},
]
PUBLISH_TYPE: list[dict[str, str]] = [
    {"name": "tokenId", "type": "uint256"},
    {"name": "published", "type": "bool"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
PUBLISH_ON_CLAIM_TYPE: list[dict[str, str]] = [
    {"name": "contentHash", "type": "bytes32"},
    {"name": "to", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
APPROVAL_FOR_ALL_TYPE: list[dict[str, str]] = [
    {"name": "owner", "type": "address"},
    {"name": "operator", "type": "address"},
    {"name": "approved", "type": "bool"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]

# PhotoNFT custom errors, as (Korean, English) messages for users.
ERROR_TEXT: dict[str, tuple[str, str]] = {
    "ZeroRecipient": ("받을 지갑 주소가 없습니다", "No recipient wallet was given"),
    "ZeroContentHash": ("사진 해시가 비어 있습니다", "The photo hash is empty"),
    "EmptyCid": ("메타데이터 CID가 비어 있습니다", "A metadata CID is empty"),
    "VoucherExpired": ("수령 기한이 지났습니다", "The claim period has ended"),
    "VoucherUsed": (
        "이미 수령했거나 취소된 사진입니다",
        "This photo was already claimed or cancelled",
    ),
    "ContentAlreadyMinted": ("이미 NFT로 발행된 사진입니다", "This photo is already an NFT"),
    "BadStudioSignature": ("스튜디오 서명이 올바르지 않습니다", "The studio signature is invalid"),
    "NotMinter": ("등록된 스튜디오의 서명이 아닙니다", "Not signed by a registered studio"),
    "BadClaimSignature": ("수령 코드가 올바르지 않습니다", "The claim code is invalid"),
    "RoyaltyTooHigh": ("로열티는 10%를 넘을 수 없습니다", "The royalty cannot exceed 10%"),
    "NotTokenOwner": ("소유자만 공개할 수 있습니다", "Only the owner can publish"),
    "TokenInEscrow": (
        "경매 중인 작품은 경매가 끝난 뒤에 공개할 수 있습니다",
        "A work in an auction can be published once the auction ends",
    ),
    "SignatureExpired": ("서명 기한이 지났습니다", "The signature has expired"),
    "BadOwnerSignature": ("소유자 서명이 올바르지 않습니다", "The owner signature is invalid"),
    "InvalidAccountNonce": ("서명 순번이 맞지 않습니다", "The signature nonce is stale"),
}


@dataclass(frozen=True)
class PhotoDomain:
    """The EIP-712 domain of one PhotoNFT deployment."""

    chain_id: int
    contract: str

    def as_dict(self) -> dict[str, Any]:
        """The domain as eth_account's typed data takes it."""
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.contract,
        }


@dataclass(frozen=True)
class MintVoucher:
    """A studio's voucher for one photo (the contract's `MintVoucher` struct)."""

    content_hash: bytes
    metadata_cid: str
    stub_cid: str
    royalty_receiver: str
    royalty_bps: int
    expiry: int
    claim_key: str
    voucher_id: int

    def validate(self) -> None:
        """Raise ValidationFailed for what the contract would reject (before signing)."""
        if len(self.content_hash) != 32 or not any(self.content_hash):
            raise ValidationFailed(
                "The content hash must be a non-zero 32-byte sha256.",
                "사진 해시는 0이 아닌 32바이트 sha256이어야 합니다.",
            )
        if not 0 <= self.royalty_bps <= MAX_ROYALTY_BPS:
            ko, en = ERROR_TEXT["RoyaltyTooHigh"]
            raise ValidationFailed(en, ko, royalty_bps=self.royalty_bps)
        if not self.metadata_cid or not self.stub_cid:
            ko, en = ERROR_TEXT["EmptyCid"]
            raise ValidationFailed(en, ko)

    def message(self) -> dict[str, Any]:
        """The typed-data message."""
        return {
            "contentHash": self.content_hash,
            "metadataCid": self.metadata_cid,
            "stubCid": self.stub_cid,
            "royaltyReceiver": self.royalty_receiver,
            "royaltyBps": self.royalty_bps,
            "expiry": self.expiry,
            "claimKey": self.claim_key,
            "voucherId": self.voucher_id,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as `PhotoNFT.claim` takes it (field order of the contract)."""
        return tuple(self.message().values())


@dataclass(frozen=True)
class ClaimKey:
    """A one-time claim key: its private key is the claim code given to the customer."""

    address: str
    private_key: str  # 0x-prefixed hex; never stored in clear, never put on chain

    def signer(self) -> Signer:
        """A signer for this key."""
        return Signer(Account.from_key(self.private_key))


def new_claim_key() -> ClaimKey:
    """A fresh random claim key (one per voucher: claim signatures do not name the studio)."""
    account = Account.from_key(secrets.token_bytes(32))
    return ClaimKey(address=account.address, private_key="0x" + bytes(account.key).hex())


def _typed(
    domain: PhotoDomain, primary: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, primary: fields},
        "primaryType": primary,
        "domain": domain.as_dict(),
        "message": message,
    }


def mint_voucher_typed_data(domain: PhotoDomain, voucher: MintVoucher) -> dict[str, Any]:
    """Typed data of a `MintVoucher`."""
    return _typed(domain, "MintVoucher", MINT_VOUCHER_TYPE, voucher.message())


def claim_typed_data(domain: PhotoDomain, voucher_id: int, to: str) -> dict[str, Any]:
    """Typed data of a `Claim` of voucher `voucher_id` to address `to`."""
    return _typed(domain, "Claim", CLAIM_TYPE, {"voucherId": voucher_id, "to": to})


def publish_typed_data(
    domain: PhotoDomain, token_id: int, published: bool, nonce: int, deadline: int
) -> dict[str, Any]:
    """Typed data of a `Publish` (publish or unpublish one token)."""
    message = {"tokenId": token_id, "published": published, "nonce": nonce, "deadline": deadline}
    return _typed(domain, "Publish", PUBLISH_TYPE, message)


def publish_on_claim_typed_data(
    domain: PhotoDomain, content_hash: bytes, to: str, nonce: int, deadline: int
) -> dict[str, Any]:
    """Typed data of a `PublishOnClaim`: the recipient's consent to publish as it claims."""
    message = {"contentHash": content_hash, "to": to, "nonce": nonce, "deadline": deadline}
    return _typed(domain, "PublishOnClaim", PUBLISH_ON_CLAIM_TYPE, message)


def approval_for_all_typed_data(
    domain: PhotoDomain, owner: str, operator: str, approved: bool, nonce: int, deadline: int
) -> dict[str, Any]:
    """Typed data of an `ApprovalForAll` (approve or revoke an operator such as the Gallery)."""
    message = {
        "owner": owner,
        "operator": operator,
        "approved": approved,
        "nonce": nonce,
        "deadline": deadline,
    }
    return _typed(domain, "ApprovalForAll", APPROVAL_FOR_ALL_TYPE, message)


def typed_data_digest(full_message: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest of typed data (what is signed)."""
    signable = encode_typed_data(full_message=full_message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_mint_voucher(
    studio: Signer, domain: PhotoDomain, voucher: MintVoucher, *, validate: bool = True
) -> bytes:
    """The studio's 65-byte signature over a voucher.

    Args:
        studio: The studio's signing key (it must hold MINTER_ROLE when the voucher is claimed).
        domain: The PhotoNFT deployment.
        voucher: The voucher.
        validate: Check the voucher first (tests turn this off to reach the contract's checks).
    """
    if validate:
        voucher.validate()
    return studio.sign_typed_data(mint_voucher_typed_data(domain, voucher))


def sign_claim(claim_key: Signer, domain: PhotoDomain, voucher_id: int, to: str) -> bytes:
    """The claim key's 65-byte signature sending voucher `voucher_id` to `to`."""
    return claim_key.sign_typed_data(claim_typed_data(domain, voucher_id, to))


def sign_publish(
    owner: Signer, domain: PhotoDomain, token_id: int, published: bool, nonce: int, deadline: int
) -> bytes:
    """The owner's 65-byte signature to publish or unpublish a token."""
    return owner.sign_typed_data(publish_typed_data(domain, token_id, published, nonce, deadline))


def sign_approval_for_all(
    owner: Signer, domain: PhotoDomain, operator: str, approved: bool, nonce: int, deadline: int
) -> bytes:
    """The owner's 65-byte signature approving (or revoking) `operator` for all its tokens."""
    typed = approval_for_all_typed_data(domain, owner.address, operator, approved, nonce, deadline)
    return owner.sign_typed_data(typed)


def royalty_amount(sale_price: int, royalty_bps: int) -> int:
    """The ERC-2981 royalty the contract reports: floor(price * bps / 10000)."""
    return sale_price * royalty_bps // ROYALTY_DENOMINATOR


def sign_publish_on_claim(
    owner: Signer, domain: PhotoDomain, content_hash: bytes, nonce: int, deadline: int
) -> bytes:
    """The recipient's 65-byte consent to `PhotoNFT.claimAndPublish` of one content hash."""
    typed = publish_on_claim_typed_data(domain, content_hash, owner.address, nonce, deadline)
    return owner.sign_typed_data(typed)
