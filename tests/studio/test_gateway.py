"""Cross-user access: every studio route and the gateway, for every kind of caller.

Callers: studio A (uploaded the photo), studio B, the owner (claimed it), another citizen,
an anonymous visitor and a platform admin. Before the claim only studio A is the rightful
party of the photo's private content; after it only the owner. Everyone else gets 404 for
private content (never 403, which would confirm it exists), and 401/403/404 for actions,
which change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.studio.service import StudioService
from tests.studio.studio_support import StudioWorld, approved_studio, upload_one
from tests.token.conftest import Actor, actor, platform  # noqa: F401 (fixture)

Probe = Callable[[TestClient, dict[str, str]], Response]
CALLERS = ("studio_a", "studio_b", "owner", "citizen", "anonymous", "admin")


@pytest.fixture
def cast(platform: PlatformContext) -> Iterator[dict[str, Actor | None]]:  # noqa: F811 (fixture)
    people: dict[str, Actor | None] = {
        "studio_a": actor(platform, "studio-a", Role.STUDIO),
        "studio_b": actor(platform, "studio-b", Role.STUDIO),
        "owner": actor(platform, "owner-c", Role.CITIZEN),
        "citizen": actor(platform, "other-c", Role.CITIZEN),
        "admin": actor(platform, "admin-m", Role.ADMIN),
        "anonymous": None,
    }
    yield people
    for a in people.values():
        if a is not None:
            a.client.close()


def _client(
    people: dict[str, Actor | None], name: str, app: object
) -> tuple[TestClient, dict[str, str]]:
    a = people[name]
    if a is None:
        return TestClient(app), {}  # type: ignore[arg-type]
    return a.client, a.headers


def _content_probes(photo: dict[str, object]) -> dict[str, Probe]:
    pid = photo["id"]
    probes: dict[str, Probe] = {
        "GET image original": lambda c, h: c.get(f"/api/studio/photos/{pid}/image?size=original"),
        "GET image 1280": lambda c, h: c.get(f"/api/studio/photos/{pid}/image"),
        "GET image 320": lambda c, h: c.get(f"/api/studio/photos/{pid}/image?size=320"),
    }
    for key in ("cid", "thumb_320_cid", "thumb_1280_cid", "metadata_cid"):
        cid = photo[key]
        probes[f"GET /ipfs {key}"] = lambda c, h, cid=cid: c.get(f"/ipfs/{cid}")
    return probes


def _action_probes(photo: dict[str, object], world: StudioWorld) -> dict[str, Probe]:
    pid, sid, stid = photo["id"], world.session_id, world.studio_id
    idem = {"Idempotency-Key": "matrix-key-1"}
    return {
        "GET photo": lambda c, h: c.get(f"/api/studio/photos/{pid}"),
        "POST issue": lambda c, h: c.post(f"/api/studio/photos/{pid}/issue", headers=h | idem),
        "POST publish": lambda c, h: c.post(
            f"/api/studio/photos/{pid}/publish", json={"published": True}, headers=h
        ),
        "GET session": lambda c, h: c.get(f"/api/studio/sessions/{sid}"),
        "POST upload": lambda c, h: c.post(
            f"/api/studio/sessions/{sid}/photos",
            files=[("files", ("x.jpg", b"\xff\xd8\xff", "image/jpeg"))],
            headers=h,
        ),
        "GET studios": lambda c, h: c.get("/api/studio/studios"),
        "POST approve": lambda c, h: c.post(f"/api/studio/studios/{stid}/approve", headers=h),
        "POST reject": lambda c, h: c.post(
            f"/api/studio/studios/{stid}/reject", json={"note": "x"}, headers=h
        ),
        "POST suspend": lambda c, h: c.post(
            f"/api/studio/studios/{stid}/suspend", json={"note": "x"}, headers=h
        ),
    }


# Which caller may use each action, before and after the claim.
ACTION_RIGHTS = {
    "GET photo": ({"studio_a"}, {"studio_a", "owner"}),
    "POST issue": ({"studio_a"}, set()),
    "POST publish": (set(), {"owner"}),
    "GET session": ({"studio_a"}, {"studio_a"}),
    "POST upload": ({"studio_a"}, {"studio_a"}),
    "GET studios": ({"admin"}, {"admin"}),
    "POST approve": ({"admin"}, {"admin"}),
    "POST reject": ({"admin"}, {"admin"}),
    "POST suspend": ({"admin"}, {"admin"}),
}


def _snapshot(service: StudioService, world: StudioWorld, photo_id: int) -> tuple[object, ...]:
    photo = service.photo(world.owner_id, photo_id)
    studio = service.my_studio(world.owner_id)
    session = service.session_detail(world.owner_id, world.session_id)
    return photo["state"], photo["published"], studio["status"], len(session["photos"])


def _check(
    people: dict[str, Actor | None],
    app: object,
    photo: dict[str, object],
    world: StudioWorld,
    phase: int,
    service: StudioService,
) -> int:
    rightful = "studio_a" if phase == 0 else "owner"
    tried = 0
    for caller in CALLERS:
        client, headers = _client(people, caller, app)
        for name, probe in _content_probes(photo).items():
            status = probe(client, headers).status_code
            tried += 1
            if caller == rightful:
                assert status == 200, (phase, caller, name, status)
            else:
                assert status == 404, (phase, caller, name, status)
        before = _snapshot(service, world, int(photo["id"]))  # type: ignore[call-overload]
        for name, probe in _action_probes(photo, world).items():
            if caller in ACTION_RIGHTS[name][phase]:
                continue  # the rightful party's actions are covered by the happy paths
            status = probe(client, headers).status_code
            tried += 1
            expected = {401, 403} if caller == "anonymous" else {403, 404}
            if caller == "studio_a":
                expected.add(409)  # its own photo, already claimed: nothing new is revealed
            assert status in expected, (phase, caller, name, status)
        assert _snapshot(service, world, int(photo["id"])) == before, (phase, caller)  # type: ignore[call-overload]
    return tried


def test_no_cross_user_access(platform: PlatformContext, cast: dict[str, Actor | None]) -> None:  # noqa: F811
    service = StudioService(platform)
    admin, studio_a, studio_b = cast["admin"], cast["studio_a"], cast["studio_b"]
    assert admin is not None and studio_a is not None and studio_b is not None
    world = approved_studio(service, "a", "123123123", admin.user_id, studio_a.user_id)
    approved_studio(service, "b", "321321321", admin.user_id, studio_b.user_id)
    photo = upload_one(service, world, 81)
    app = studio_a.client.app
    tried = _check(cast, app, photo, world, 0, service)
    _, issued = service.issue(world.owner_id, photo["id"], "matrix-issue-1")  # type: ignore[arg-type]
    owner = cast["owner"]
    assert owner is not None
    status, _ = service.claim(owner.user_id, issued["claim_code"], None, "matrix-claim-1")
    assert status == 200
    tried += _check(cast, app, photo, world, 1, service)
    assert tried > 100
    # stub metadata and the placeholder stay public for everyone
    anonymous = TestClient(app)
    stub = anonymous.get(f"/ipfs/{photo['stub_cid']}")
    assert stub.status_code == 200 and stub.json()["name"] == "비공개 사진 / Private photo"
    placeholder = stub.json()["image"].removeprefix("ipfs://")
    assert anonymous.get(f"/ipfs/{placeholder}").headers["content-type"] == "image/png"


def _transfer(service: StudioService, token_id: int, owner: str, to: str) -> None:
    """Move a token on chain as its owner would from a wallet (anvil test accounts)."""
    client = service.outbox.client
    client.request("anvil_setBalance", [owner, hex(10**18)])
    client.request("anvil_impersonateAccount", [owner])
    data = service.nft.encode_abi("transferFrom", [owner, to, token_id])
    tx_hash = client.request(
        "eth_sendTransaction", [{"from": owner, "to": service.nft.address, "data": data}]
    )
    client.request("anvil_stopImpersonatingAccount", [owner])
    deadline = time.monotonic() + 30
    receipt = client.receipt(tx_hash)
    while receipt is None and time.monotonic() < deadline:  # a busy machine mines a bit later
        time.sleep(0.05)
        receipt = client.receipt(tx_hash)
    assert receipt is not None and int(receipt["status"], 16) == 1


def test_access_follows_the_token_after_a_transfer(
    platform: PlatformContext,  # noqa: F811 (fixture)
    cast: dict[str, Actor | None],
) -> None:
    service = StudioService(platform)
    admin, studio_a = cast["admin"], cast["studio_a"]
    seller, buyer = cast["owner"], cast["citizen"]
    assert admin and studio_a and seller and buyer
    world = approved_studio(service, "t", "456456456", admin.user_id, studio_a.user_id)
    photo = upload_one(service, world, 95)
    _, issued = service.issue(world.owner_id, photo["id"], "transfer-issue-1")  # type: ignore[arg-type]
    _, claimed = service.claim(seller.user_id, issued["claim_code"], None, "transfer-claim-1")
    assert service.publish(seller.user_id, photo["id"], True)[0] == 200  # type: ignore[arg-type]
    anonymous = TestClient(studio_a.client.app)
    assert anonymous.get(f"/ipfs/{photo['cid']}").status_code == 200
    _transfer(service, claimed["token_id"], seller.address, buyer.address)
    # the transfer made the token private on chain: the gateway follows at once
    assert anonymous.get(f"/ipfs/{photo['cid']}").status_code == 404
    assert seller.client.get(f"/ipfs/{photo['cid']}").status_code == 404
    assert buyer.client.get(f"/ipfs/{photo['cid']}").status_code == 200
    mine = buyer.client.get("/api/studio/me/photos").json()
    assert [p["id"] for p in mine] == [photo["id"]]
