"""Helpers for the studio service, route and gateway tests: users, studios and photos."""

from __future__ import annotations

from dataclasses import dataclass

from busanchain.accounts.service import account_service_for
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.studio.service import StudioService, Upload
from tests.accounts.conftest import make_user
from tests.merchants.conftest import bizno
from tests.studio import corpus


def camera_photo(seed: int, width: int = 480, height: int = 360) -> bytes:
    """A small camera JPEG with a capture date (distinct per seed)."""
    return corpus.camera_jpeg(corpus.photo(width, height, seed))


def user(context: PlatformContext, username: str, *roles: Role) -> int:
    """A user (no login) with a custodial key."""
    return make_user(account_service_for(context), username, *roles)


def address_of(context: PlatformContext, user_id: int) -> str:
    """The user's custodial address."""
    address = key_service_for(context).custodial_address(user_id)
    assert address is not None
    return address


@dataclass
class StudioWorld:
    """An approved studio with one session and its owner's and the admin's ids."""

    owner_id: int
    studio_id: int
    session_id: int
    admin_id: int


def approved_studio(
    service: StudioService, name: str, nine: str, admin_id: int, owner_id: int | None = None
) -> StudioWorld:
    """Register and approve a studio and open a session "S-1"."""
    owner = owner_id or user(service.context, f"{name}-owner", Role.STUDIO)
    studio = service.register(owner, f"{name} 사진관", f"{name} Studio", bizno(nine), 500)
    approved = service.approve(studio["id"], admin_id)
    assert approved["status"] == "active", approved
    session = service.create_session(owner, "S-1")
    return StudioWorld(owner, studio["id"], session["id"], admin_id)


def upload_one(service: StudioService, world: StudioWorld, seed: int) -> dict[str, object]:
    """Upload one photo to the world's session and return it."""
    photos = service.upload(world.owner_id, world.session_id, [Upload("p.jpg", camera_photo(seed))])
    return photos[0]
