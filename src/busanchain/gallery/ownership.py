"""The gallery's handles on the chain (Gallery, DigitalWon, PhotoNFT) and ownership sync.

The chain is the truth for who holds a token, whether it is published and whether it is
frozen; `OwnershipSync.sync` copies holder and publication into the studio's photo row after
every sale, auction and escrow move. During an auction the holder is the seller
(`Gallery.holderOf`), not the escrow contract, so the seller keeps seeing the photo as theirs.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from eth_abi import decode
from web3 import Web3
from web3.contract import Contract

from busanchain.chain.artifacts import load_artifact
from busanchain.deployment.service import DeploymentService
from busanchain.domain.errors import ChainError, ConfigurationError
from busanchain.gallery import repository as repo
from busanchain.gallery.market import GALLERY, gallery_separator, token_separator
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext

TOKEN = "DigitalWon"  # noqa: S105 (a contract name)
PHOTO_NFT = "PhotoNFT"


def _output_types(abi: Any, fn: str) -> list[str]:
    for item in abi:
        if item.get("type") == "function" and item["name"] == fn:
            return [_type_of(out) for out in item["outputs"]]
    raise KeyError(fn)


def _type_of(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type_of(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _checksummed(value: Any) -> Any:
    """Decoded ABI values with every address checksummed (web3 refuses lowercase ones)."""
    if isinstance(value, tuple):
        return tuple(_checksummed(v) for v in value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return Web3.to_checksum_address(value)
    return value


class GalleryChain:
    """Gallery, DigitalWon and PhotoNFT on the platform's chain: calldata and decoded reads."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)

    @cached_property
    def addresses(self) -> dict[str, str]:
        """Contract name to address (Gallery, DigitalWon, PhotoNFT)."""
        chain_id = self.outbox.client.chain_id()
        found = DeploymentService(self.context, self.outbox).addresses(chain_id)
        missing = [n for n in (GALLERY, TOKEN, PHOTO_NFT) if n not in found]
        if missing:
            raise ConfigurationError(
                f"{', '.join(missing)} not deployed on this chain; run `busanchain deploy`.",
                f"이 체인에 {', '.join(missing)} 계약이 없습니다. "
                "`busanchain deploy`를 실행하세요.",
            )
        return found

    @cached_property
    def deployed_in(self) -> dict[str, int]:
        """The block PhotoNFT and the Gallery were each deployed in (as recorded)."""
        chain_id = self.outbox.client.chain_id()
        found = DeploymentService(self.context, self.outbox).blocks(chain_id)
        return {name: found[name] for name in (GALLERY, PHOTO_NFT) if name in found}

    def _contract(self, name: str) -> Contract:
        address = Web3.to_checksum_address(self.addresses[name])
        return Web3().eth.contract(address=address, abi=load_artifact(name).abi)

    @cached_property
    def gallery(self) -> Contract:
        """The Gallery market."""
        return self._contract(GALLERY)

    @cached_property
    def token(self) -> Contract:
        """DigitalWon."""
        return self._contract(TOKEN)

    @cached_property
    def nft(self) -> Contract:
        """PhotoNFT."""
        return self._contract(PHOTO_NFT)

    @cached_property
    def chain_id(self) -> int:
        """The chain id."""
        return self.outbox.client.chain_id()

    @cached_property
    def separator(self) -> bytes:
        """The Gallery's EIP-712 domain separator."""
        return gallery_separator(self.chain_id, self.gallery.address)

    @cached_property
    def token_separator(self) -> bytes:
        """DigitalWon's EIP-712 domain separator (permits)."""
        return token_separator(self.chain_id, self.token.address)

    @staticmethod
    def calldata(contract: Contract, fn: str, args: list[Any]) -> bytes:
        """ABI-encoded calldata for the outbox."""
        return bytes.fromhex(contract.encode_abi(fn, args)[2:])

    def read(self, contract: Contract, fn: str, args: list[Any]) -> tuple[Any, ...]:
        """Call a view and decode all its outputs."""
        data = contract.encode_abi(fn, args)
        out = self.outbox.client.call({"to": contract.address, "data": data})
        return tuple(_checksummed(v) for v in decode(_output_types(contract.abi, fn), out))

    def read_one(self, contract: Contract, fn: str, args: list[Any]) -> Any:
        """Call a single-output view; addresses come back checksummed."""
        return self.read(contract, fn, args)[0]

    def chain_time(self) -> int:
        """The latest block's timestamp (what the contracts compare against)."""
        block = self.outbox.client.request("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def balance(self, address: str) -> int:
        """DigitalWon held by an address."""
        return int(self.read_one(self.token, "balanceOf", [address]))

    def holder(self, token_id: int) -> str:
        """The token's owner, or the seller while it is escrowed in an auction."""
        return str(self.read_one(self.gallery, "holderOf", [token_id]))

    def owner(self, token_id: int) -> str:
        """ERC-721 `ownerOf`."""
        return str(self.read_one(self.nft, "ownerOf", [token_id]))

    def is_frozen(self, token_id: int) -> bool:
        """Whether a moderator froze the token."""
        return bool(self.read_one(self.gallery, "isFrozen", [token_id]))

    def is_published(self, token_id: int) -> bool:
        """PhotoNFT `isPublished`."""
        return bool(self.read_one(self.nft, "isPublished", [token_id]))


class OwnershipSync:
    """Copy a token's holder and publication state from the chain into the photo row."""

    def __init__(self, context: PlatformContext, chain: GalleryChain) -> None:
        self.context = context
        self.chain = chain

    def sync(self, token_id: int) -> None:
        """Read holder and `isPublished` and record them; an unreachable node changes nothing."""
        try:
            holder = self.chain.holder(token_id)
            published = self.chain.is_published(token_id)
        except ChainError:
            return
        with self.context.unit_of_work() as session:
            repo.sync_photo(session, token_id, holder, published)
