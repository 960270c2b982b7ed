"""Fixtures for the gallery: a world with an approved studio, a claimed and published photo
owned by a citizen, buyers holding DigitalWon, and a moderator (admin) — all on real anvil."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from busanchain.domain.roles import Role
from busanchain.gallery.service import GalleryService
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio.service import StudioService
from tests.studio.studio_support import StudioWorld, approved_studio, upload_one
from tests.token.conftest import Actor, actor, platform  # noqa: F401 (fixture)


@dataclass
class GalleryWorld:
    """Everything a gallery test needs."""

    context: PlatformContext
    gallery: GalleryService
    studio: StudioService
    studio_world: StudioWorld
    admin: Actor
    seller: Actor
    buyer: Actor
    bidder: Actor
    token_id: int
    photo_id: int
    royalty_receiver: str

    def claimed_photo(self, owner: Actor, seed: int, publish: bool = True) -> tuple[int, int]:
        """Upload, issue and claim another photo for `owner`; (token id, photo id)."""
        photo = upload_one(self.studio, self.studio_world, seed)
        _, issued = self.studio.issue(self.studio_world.owner_id, photo["id"], f"issue-key-{seed}")
        status, claimed = self.studio.claim(
            owner.user_id, issued["claim_code"], None, f"claim-key-{seed}"
        )
        assert status == 200, claimed
        if publish:
            status, _ = self.studio.publish(owner.user_id, int(photo["id"]), True)
            assert status == 200
        return int(claimed["token_id"]), int(photo["id"])

    def mint_won(self, to: str, amount: int) -> None:
        """Issue DigitalWon to an address (the operator is the issuer)."""
        token = self.gallery.chain.token
        self.gallery.outbox.execute(
            signer=operator_signer(self.context.settings),
            intent="test.mint",
            to=token.address,
            data=self.gallery.chain.calldata(token, "mint", [to, amount, secrets.token_bytes(32)]),
        )

    def won(self, address: str) -> int:
        """DigitalWon balance."""
        return self.gallery.chain.balance(address)

    def now(self) -> int:
        """Chain time."""
        return self.gallery.chain.chain_time()

    def advance(self, seconds: int) -> None:
        """Move the chain's clock forward and mine a block."""
        client = self.gallery.outbox.client
        client.request("evm_increaseTime", [seconds])
        client.request("evm_mine", [])


@pytest.fixture
def world(platform: PlatformContext) -> Iterator[GalleryWorld]:  # noqa: F811 (fixture)
    admin = actor(platform, "gallery-admin", Role.ADMIN)
    seller = actor(platform, "seller", Role.CITIZEN)
    buyer = actor(platform, "buyer", Role.CITIZEN)
    bidder = actor(platform, "bidder", Role.CITIZEN)
    studio = StudioService(platform)
    studio_world = approved_studio(studio, "gal", "123456789", admin.user_id)
    partial = GalleryWorld(
        platform,
        GalleryService(platform),
        studio,
        studio_world,
        admin,
        seller,
        buyer,
        bidder,
        0,
        0,
        "",
    )
    token_id, photo_id = partial.claimed_photo(seller, 1)
    partial.token_id, partial.photo_id = token_id, photo_id
    receiver, _ = partial.gallery.chain.read(
        partial.gallery.chain.nft, "royaltyInfo", [token_id, 10_000]
    )
    partial.royalty_receiver = str(receiver)
    partial.mint_won(buyer.address, 1_000_000)
    partial.mint_won(bidder.address, 1_000_000)
    yield partial
    for a in (admin, seller, buyer, bidder):
        a.client.close()
