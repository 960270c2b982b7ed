"""Authorization matrix of the photo studio and the gallery (issue 4).

One world on a real anvil node and a real database: studios A and B (approved); citizen A
owns P1 (claimed, private) and P2 (claimed, published); P3 was uploaded and issued by studio
A (not claimed yet); P4 was uploaded by studio B. Nine parties: anonymous, citizen A, citizen
B, the owners of studios A and B, a merchant, an official, an auditor and an admin.

1. Content: every private blob of every photo, by `/ipfs/{cid}` and by the photo image API,
   reaches only its rightful party (the owner once claimed, before that the uploading
   studio); everyone else gets the same 404 as for content that does not exist. No JSON
   answer or page (studio, gallery, explorer) shows a private CID to anyone who may not see
   the photo's record (its owner and the studio that made it).
2. Writes: every POST/PATCH/DELETE route under /api/studio and /api/gallery, found in the
   app's routes, is tried by every party that may not use it on the target: 401/403/404, and
   no studio_*/gallery_* row and no outbox entry changes.
3. Publishing P1 makes it public to all; unpublishing makes it private again.

Run with `-s` to see the party × resource tables.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from busanchain.db.base import Base
from busanchain.deployment.service import DeploymentService
from busanchain.domain.roles import Role
from busanchain.explorer.indexer import ChainIndexer
from busanchain.explorer.service import contract_book_from_registry
from busanchain.gallery.service import GalleryService
from busanchain.outbox.service import OutboxService
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio.service import StudioService
from busanchain.web.app import create_app
from tests.conftest import module_context, start_anvil
from tests.merchants.conftest import bizno
from tests.studio.studio_support import StudioWorld, approved_studio, camera_photo, upload_one
from tests.token.conftest import Actor, actor

pytestmark = pytest.mark.chain

ROLES: dict[str, Role] = {
    "citizen_a": Role.CITIZEN,
    "citizen_b": Role.CITIZEN,
    "studio_a": Role.STUDIO,
    "studio_b": Role.STUDIO,
    "merchant": Role.MERCHANT,
    "official": Role.OFFICIAL,
    "auditor": Role.AUDITOR,
    "admin": Role.ADMIN,
}
PARTIES = ("anonymous", *ROLES)
MEMBERS = frozenset(ROLES)
BLOBS = ("cid", "thumb_320_cid", "thumb_1280_cid", "metadata_cid")
SIZES = ("original", "1280", "320")
MISSING_CID = "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
MISSING_PHOTO = 2_000_000_000
CHAIN_VIEWS = ("/api/explorer/txs/", "/explorer/tx/")  # decoded calldata of transactions


@dataclass
class Photo:
    """One photo of the world: its id, token, private CIDs and who holds it."""

    name: str
    photo_id: int
    cids: dict[str, str]
    stub_cid: str
    studio: str
    owner: str | None = None
    token_id: int | None = None
    published: bool = False

    def bytes_readers(self) -> frozenset[str] | None:
        """Who may fetch the private blobs (None: everyone, the photo is published)."""
        if self.published:
            return None
        return frozenset({self.owner or self.studio})

    def record_readers(self) -> frozenset[str] | None:
        """Who may see the private CIDs in a record: the holder and the studio that made it."""
        if self.published:
            return None
        return frozenset({self.studio, *([self.owner] if self.owner else [])})


@dataclass
class World:
    """The shared world of this module."""

    context: PlatformContext
    studio: StudioService
    gallery: GalleryService
    actors: dict[str, Actor]
    anonymous: TestClient
    photos: dict[str, Photo]
    worlds: dict[str, StudioWorld]
    p3_code: str
    listing_id: int
    offer_id: int
    exhibition_id: int
    log: list[str] = field(default_factory=list)

    def client(self, party: str) -> TestClient:
        """The party's browser (the anonymous one has no session)."""
        return self.anonymous if party == "anonymous" else self.actors[party].client

    def headers(self, party: str) -> dict[str, str]:
        """The party's CSRF header (none for the anonymous visitor)."""
        return {} if party == "anonymous" else dict(self.actors[party].headers)


# -- building the world ------------------------------------------------------------------------


def _mint_won(gallery: GalleryService, context: PlatformContext, to: str, amount: int) -> None:
    """Issue DigitalWon to an address (the operator is the issuer)."""
    token = gallery.chain.token
    gallery.outbox.execute(
        signer=operator_signer(context.settings),
        intent="test.mint",
        to=token.address,
        data=gallery.chain.calldata(token, "mint", [to, amount, secrets.token_bytes(32)]),
    )


def _photo(name: str, record: dict[str, Any], studio: str) -> Photo:
    cids = {kind: str(record[kind]) for kind in BLOBS}
    return Photo(name, int(record["id"]), cids, str(record["stub_cid"]), studio)


def _claim(world: World, photo: Photo, owner: str, seed: int) -> None:
    """Issue and claim `photo` for `owner` through the service."""
    studio_owner = world.worlds[photo.studio].owner_id
    _, issued = world.studio.issue(studio_owner, photo.photo_id, f"matrix-issue-{seed}")
    status, claimed = world.studio.claim(
        world.actors[owner].user_id, issued["claim_code"], None, f"matrix-claim-{seed}"
    )
    assert status == 200, claimed
    photo.owner, photo.token_id = owner, int(claimed["token_id"])


def _build(context: PlatformContext) -> World:
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    actors = {name: actor(context, f"mx-{name}", role) for name, role in ROLES.items()}
    studio, gallery = StudioService(context), GalleryService(context)
    admin = actors["admin"].user_id
    worlds = {
        "studio_a": approved_studio(studio, "mxa", "135792468", admin, actors["studio_a"].user_id),
        "studio_b": approved_studio(studio, "mxb", "246813579", admin, actors["studio_b"].user_id),
    }
    made = {n: upload_one(studio, worlds["studio_a"], s) for n, s in (("P1", 401), ("P2", 402))}
    made["P3"] = upload_one(studio, worlds["studio_a"], 403)
    made["P4"] = upload_one(studio, worlds["studio_b"], 404)
    studios = {"P1": "studio_a", "P2": "studio_a", "P3": "studio_a", "P4": "studio_b"}
    photos = {n: _photo(n, r, studios[n]) for n, r in made.items()}
    _, p3 = studio.issue(worlds["studio_a"].owner_id, photos["P3"].photo_id, "matrix-issue-p3")
    world = World(
        context, studio, gallery, actors, TestClient(create_app(context)), photos, worlds,
        str(p3["claim_code"]), 0, 0, 0,
    )  # fmt: skip
    _claim(world, photos["P1"], "citizen_a", 1)
    _claim(world, photos["P2"], "citizen_a", 2)
    _market(world)
    ChainIndexer(context, contract_book_from_registry(context)).sync()
    return world


def _market(world: World) -> None:
    """P2 published, listed by citizen A, an offer on it by citizen B, and an exhibition."""
    p2, citizen_a, citizen_b = (
        world.photos["P2"],
        world.actors["citizen_a"],
        world.actors["citizen_b"],
    )
    assert world.studio.publish(citizen_a.user_id, p2.photo_id, True)[0] == 200
    p2.published = True
    assert p2.token_id is not None
    expiry = world.gallery.chain.chain_time() + 86_400
    listed = world.gallery.create_listing(citizen_a.user_id, p2.token_id, 50_000, expiry)
    _mint_won(world.gallery, world.context, citizen_b.address, 100_000)
    offered = world.gallery.create_offer(citizen_b.user_id, p2.token_id, 40_000, expiry)
    shown = world.gallery.create_exhibition(
        world.worlds["studio_a"].owner_id, False, "전시", "Show", None, [p2.token_id]
    )
    world.listing_id, world.offer_id = int(listed["id"]), int(offered["id"])
    world.exhibition_id = int(shown["id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("studio-matrix")
    node = start_anvil(tmp / "anvil", anvil_binary)
    try:
        with module_context(tmp, node.config.rpc_url) as context:
            built = _build(context)
            yield built
            for a in built.actors.values():
                a.client.close()
            built.anonymous.close()
    finally:
        node.stop(snapshot=False)


# -- 1. content --------------------------------------------------------------------------------


@dataclass
class Tally:
    """Results of one matrix run: statuses by party and resource, and what went wrong."""

    cells: dict[str, dict[str, str]] = field(default_factory=dict)
    cross: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def mark(self, party: str, resource: str, value: str) -> None:
        """Record one cell of the table."""
        self.cells.setdefault(resource, {})[party] = value

    def table(self, title: str) -> str:
        """The party × resource table as text."""
        width = max(len(r) for r in self.cells) if self.cells else 10
        head = f"{'resource':<{width}} " + " ".join(f"{p[:10]:>10}" for p in PARTIES)
        lines = [f"== {title}: {len(self.cross)} cross-user accesses ==", head]
        for resource, row in self.cells.items():
            cells = " ".join(f"{row.get(p, '-'):>10}" for p in PARTIES)
            lines.append(f"{resource:<{width}} {cells}")
        return "\n".join(lines)


def _byte_probes(photo: Photo) -> dict[str, tuple[str, str]]:
    """Resource label -> (URL, CID of the blob it must serve)."""
    probes = {f"{photo.name} /ipfs {k}": (f"/ipfs/{cid}", cid) for k, cid in photo.cids.items()}
    for size in SIZES:
        kind = {"original": "cid", "1280": "thumb_1280_cid", "320": "thumb_320_cid"}[size]
        url = f"/api/studio/photos/{photo.photo_id}/image?size={size}"
        probes[f"{photo.name} image {size}"] = (url, photo.cids[kind])
    return probes


def _not_found_bodies(world: World, party: str) -> tuple[bytes, bytes]:
    """What the party gets for content and a photo that do not exist."""
    client = world.client(party)
    missing_cid = client.get(f"/ipfs/{MISSING_CID}")
    missing_photo = client.get(f"/api/studio/photos/{MISSING_PHOTO}/image?size=320")
    assert missing_cid.status_code == missing_photo.status_code == 404
    return missing_cid.content, missing_photo.content


def check_bytes(world: World, tally: Tally) -> None:
    """Every private blob × every party × both paths (9 × 4 × 7 = 252 cells)."""
    for party in PARTIES:
        absent = _not_found_bodies(world, party)
        for photo in world.photos.values():
            readers = photo.bytes_readers()
            for resource, (url, cid) in _byte_probes(photo).items():
                allowed = readers is None or party in readers
                if allowed:
                    _check_served(world, tally, party, resource, url, cid, readers is None)
                else:
                    _check_refused(world, tally, party, resource, url, cid, absent)


def _check_served(
    world: World, tally: Tally, party: str, resource: str, url: str, cid: str, public: bool
) -> None:
    """The rightful party gets the stored bytes; private ones never go into a shared cache."""
    response = world.client(party).get(url)
    tally.mark(party, resource, str(response.status_code))
    if response.status_code != 200 or response.content != world.studio.store.get(cid):
        tally.wrong.append(f"{party} refused its own {resource}: {response.status_code}")
    cache = response.headers.get("cache-control", "")
    if not public and ("no-store" not in cache or "private" not in cache):
        tally.cross.append(f"{party} {resource}: private bytes cacheable ({cache})")


def _check_refused(
    world: World, tally: Tally, party: str, resource: str, url: str, cid: str, absent: Any
) -> None:
    """Anyone else: the same 404 as for nothing at all, even when naming the ETag."""
    client = world.client(party)
    response = client.get(url)
    tally.mark(party, resource, str(response.status_code))
    if response.status_code < 400 or response.content == world.studio.store.get(cid):
        tally.cross.append(f"{party} -> {resource} = {response.status_code}")
    if response.status_code != 404:
        tally.wrong.append(f"{party} {resource}: {response.status_code}, not 404")
    elif response.content not in absent:
        tally.wrong.append(f"{party} {resource}: 404 differs from a missing one")
    revalidated = client.get(url, headers={"If-None-Match": f'"{cid}"'})
    if revalidated.status_code != 404:
        tally.cross.append(f"{party} -> {resource} (If-None-Match) = {revalidated.status_code}")


def _public_blobs(world: World) -> None:
    """Stub metadata and the placeholder are public by design, for every photo and party."""
    for party in PARTIES:
        for photo in world.photos.values():
            stub = world.client(party).get(f"/ipfs/{photo.stub_cid}")
            assert stub.status_code == 200, (party, photo.name)
            placeholder = stub.json()["image"].removeprefix("ipfs://")
            assert world.client(party).get(f"/ipfs/{placeholder}").status_code == 200


# -- record and page leaks ---------------------------------------------------------------------


def _routes(world: World) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route of the app, routers included."""
    routes = world.anonymous.app.routes  # type: ignore[attr-defined]
    return [(r.path or "", set(r.methods or ())) for r in iter_route_contexts(routes)]


def _gallery_page_urls(world: World) -> list[str]:
    """GET pages under /gallery that exist in the app, with this world's ids filled in."""
    p1, p2 = world.photos["P1"], world.photos["P2"]
    values: dict[str, list[str]] = {
        "token_id": [str(p1.token_id), str(p2.token_id)],
        "exhibition_id": [str(world.exhibition_id)],
        "order_id": [str(world.listing_id), str(world.offer_id)],
        "address": [world.actors["citizen_a"].address, world.actors["studio_a"].address],
    }
    urls: list[str] = []
    for path, methods in _routes(world):
        if not path.startswith("/gallery") or "GET" not in methods:
            continue
        params = [p for p in values if "{" + p + "}" in path]
        if "{" in path and len(params) != path.count("{"):
            world.log.append(f"gallery page not probed (unknown parameter): {path}")
            continue
        filled = [path]
        for p in params:
            filled = [u.replace("{" + p + "}", v) for u in filled for v in values[p]]
        urls.extend(filled)
    return urls


def _record_urls(world: World) -> list[str]:
    """Every GET (JSON and HTML) that can carry a photo's CIDs or metadata."""
    p = world.photos
    tokens = [str(x.token_id) for x in p.values() if x.token_id is not None]
    addresses = [world.actors[n].address for n in ("citizen_a", "citizen_b", "studio_a")]
    sessions = [str(w.session_id) for w in world.worlds.values()]
    urls = [f"/api/studio/photos/{x.photo_id}" for x in p.values()]
    urls += [f"/api/studio/sessions/{s}" for s in sessions]
    urls += ["/api/studio/me/photos", "/api/studio/me/studio", "/api/studio/studios"]
    urls += [f"/api/gallery/tokens/{t}" for t in tokens]
    urls += ["/api/gallery/tokens", "/api/gallery/tokens?q=mxa", "/api/gallery/exhibitions"]
    urls += [f"/api/gallery/exhibitions/{world.exhibition_id}", "/api/gallery/appeals"]
    urls += [f"/api/gallery/listings/{o}" for o in (world.listing_id, world.offer_id)]
    urls += [f"/api/gallery/profiles/{a}" for a in addresses]
    urls += [f"/api/explorer/nfts/{t}" for t in tokens]
    urls += [f"/api/explorer/nfts/{t}/provenance" for t in tokens]
    urls += [f"/explorer/nft/{t}" for t in tokens]
    urls += [u for h in _studio_txs(world) for u in (f"/api/explorer/txs/{h}", f"/explorer/tx/{h}")]
    urls += ["/me/photos", "/studio", f"/claim/{world.p3_code}"]
    urls += [f"/studio/sessions/{s}" for s in sessions]
    return urls + _gallery_page_urls(world)


def _studio_txs(world: World) -> list[str]:
    """Hashes of the claim and publish transactions (their calldata is public on chain)."""
    with world.context.unit_of_work() as session:
        query = select(OutboxEntry.tx_hash).where(OutboxEntry.intent.like("studio.%"))
        return list(session.scalars(query))


# Object reads whose answer is the object itself: only its viewers may get a 2xx.
def _object_viewers(world: World, url: str) -> frozenset[str] | None:
    for photo in world.photos.values():
        if url == f"/api/studio/photos/{photo.photo_id}":
            return frozenset({photo.studio, *([photo.owner] if photo.owner else [])})
    for name, w in world.worlds.items():
        if url.endswith(f"/sessions/{w.session_id}"):
            return frozenset({name})
    return None


def _private_marks(photo: Photo, world: World, url: str) -> dict[str, str]:
    """Strings whose presence in an answer would leak the photo: its CIDs and metadata text.

    One exception, by the contract's design: a claim transaction carries the voucher, whose
    `metadataCid` is public calldata (tokenURI switches to it on publish), so the explorer's
    transaction views show it. The content behind it is still refused by the gateway.
    """
    marks = {kind: cid for kind, cid in photo.cids.items()}
    if photo.token_id is not None and url.startswith(CHAIN_VIEWS):
        del marks["metadata_cid"]
    metadata = world.studio.store.get(photo.cids["metadata_cid"])
    assert metadata is not None
    marks["metadata text"] = metadata.decode()[:200]
    return marks


def check_records(world: World, tally: Tally) -> None:
    """No answer shows a private CID or the full metadata to anyone outside its readers."""
    urls = _record_urls(world)
    for party in PARTIES:
        client = world.client(party)
        for url in urls:
            response = client.get(url, follow_redirects=False)
            tally.mark(party, url[:60], str(response.status_code))
            if response.status_code >= 500:
                tally.wrong.append(f"{party} {url}: {response.status_code}")
            viewers = _object_viewers(world, url)
            if viewers is not None and party not in viewers and response.status_code < 300:
                tally.cross.append(f"{party} -> {url} = {response.status_code}")
            _scan(world, tally, party, url, response.text)


def _scan(world: World, tally: Tally, party: str, url: str, body: str) -> None:
    for photo in world.photos.values():
        readers = photo.record_readers()
        if readers is None or party in readers:
            continue
        for kind, mark in _private_marks(photo, world, url).items():
            if mark in body:
                tally.cross.append(f"{party} -> {url} shows {photo.name}'s {kind}")


def content_matrix(world: World, title: str) -> Tally:
    """Run the content and record matrices and print the table."""
    tally = Tally()
    check_bytes(world, tally)
    assert sum(len(row) for row in tally.cells.values()) == len(PARTIES) * 4 * 7
    check_records(world, tally)
    print("\n" + tally.table(title))
    for line in tally.cross + tally.wrong + world.log:
        print("  !", line)
    return tally


def _set_published(world: World, name: str, published: bool) -> None:
    """The owner publishes or unpublishes through the API."""
    photo = world.photos[name]
    assert photo.owner is not None
    owner = world.actors[photo.owner]
    answer = owner.client.post(
        f"/api/studio/photos/{photo.photo_id}/publish",
        json={"published": published},
        headers=owner.headers,
    )
    assert answer.status_code == 200, answer.text
    photo.published = published


def test_content_matrix_has_no_cross_user_access(world: World) -> None:
    _public_blobs(world)
    tally = content_matrix(world, "content: P1 private, P2 published, P3 issued, P4 uploaded")
    assert tally.cross == [] and tally.wrong == []
    _set_published(world, "P2", False)  # P2's private parts: its owner only
    try:
        tally = content_matrix(world, "content: P2 unpublished")
        assert tally.cross == [] and tally.wrong == []
    finally:
        _set_published(world, "P2", True)


def test_publish_opens_p1_and_unpublish_closes_it_again(world: World) -> None:
    _set_published(world, "P1", True)
    try:
        opened = content_matrix(world, "content: P1 published")
        assert opened.cross == [] and opened.wrong == []
        original = world.photos["P1"].cids["cid"]
        assert opened.cells["P1 /ipfs cid"]["anonymous"] == "200"
        assert world.anonymous.get(f"/ipfs/{original}").status_code == 200
        cards = world.anonymous.get("/api/gallery/tokens").text
        assert original in cards  # published works are browsable, with their CIDs
    finally:
        _set_published(world, "P1", False)
    closed = content_matrix(world, "content: P1 unpublished again")
    assert closed.cross == [] and closed.wrong == []
    assert closed.cells["P1 /ipfs cid"]["anonymous"] == "404"
    assert original not in world.anonymous.get("/api/gallery/tokens").text


def test_matrix_catches_a_gateway_that_lets_everyone_in(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StudioService, "_may_read", lambda self, session, user_id, row: True)
    tally = Tally()
    check_bytes(world, tally)
    print(f"\nmutation (gateway open to all): {len(tally.cross)} cross-user accesses")
    assert len(tally.cross) > 0
    assert any(c.startswith("anonymous -> P1 /ipfs cid") for c in tally.cross)


def test_matrix_catches_a_record_that_shows_private_cids(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StudioService, "_may_see_record", lambda self, s, u, r: True)
    tally = Tally()
    check_records(world, tally)
    print(f"\nmutation (records open to all): {len(tally.cross)} cross-user accesses")
    assert any(c.startswith("citizen_b -> /api/studio/photos/") for c in tally.cross)


# -- 2. writes ---------------------------------------------------------------------------------


@dataclass
class WriteProbe:
    """One attempt at a write route: what to send and which parties may do it."""

    label: str
    send: Callable[[TestClient, dict[str, str]], Any]
    allowed: frozenset[str]
    # Refusals that name the party's own mistake on its own object (not a cross-user access).
    own: dict[str, frozenset[int]] = field(default_factory=dict)


def _json(method: str, url: str, body: dict[str, Any] | None = None, idem: bool = False) -> Any:
    def send(client: TestClient, headers: dict[str, str]) -> Any:
        extra = {"Idempotency-Key": f"mx-{secrets.token_hex(8)}"} if idem else {}
        return client.request(method, url, json=body, headers=headers | extra)

    return send


def _upload(url: str) -> Callable[[TestClient, dict[str, str]], Any]:
    def send(client: TestClient, headers: dict[str, str]) -> Any:
        photo = camera_photo(5_000 + secrets.randbelow(10_000))
        return client.post(url, files=[("files", ("x.jpg", photo, "image/jpeg"))], headers=headers)

    return send


def _studio_probes(world: World) -> dict[tuple[str, str], list[WriteProbe]]:
    a, b = world.worlds["studio_a"], world.worlds["studio_b"]
    p1, p2, p3, p4 = (world.photos[n] for n in ("P1", "P2", "P3", "P4"))
    studios = frozenset({"studio_a", "studio_b"})
    admin = frozenset({"admin"})
    new_studio = {"name_ko": "새", "name_en": "New", "business_number": bizno("975318642")}
    decision = {"note": "matrix"}
    pem = {"certificate_chain_pem": "not a chain", "private_key_pem": "not a key"}
    base = "/api/studio"
    return {
        ("POST", f"{base}/studios"): [
            WriteProbe("register", _json("POST", f"{base}/studios", new_studio), studios)
        ],
        ("POST", f"{base}/studios/{{studio_id}}/approve"): [
            WriteProbe("approve B", _json("POST", f"{base}/studios/{b.studio_id}/approve"), admin)
        ],
        ("POST", f"{base}/studios/{{studio_id}}/reject"): [
            WriteProbe(
                "reject B", _json("POST", f"{base}/studios/{b.studio_id}/reject", decision), admin
            )
        ],
        ("POST", f"{base}/studios/{{studio_id}}/suspend"): [
            WriteProbe(
                "suspend A",
                _json("POST", f"{base}/studios/{a.studio_id}/suspend", decision),
                admin,
            )
        ],
        ("POST", f"{base}/me/photographers"): [
            WriteProbe(
                "add photographer",
                _json("POST", f"{base}/me/photographers", {"name": "Kim", "royalty_bps": 100}),
                studios,
            )
        ],
        ("PUT", f"{base}/me/credentials"): [
            WriteProbe("replace credentials", _json("PUT", f"{base}/me/credentials", pem), studios)
        ],
        ("POST", f"{base}/sessions"): [
            WriteProbe("open session", _json("POST", f"{base}/sessions", {"code": "MX-9"}), studios)
        ],
        ("POST", f"{base}/sessions/{{session_id}}/photos"): [
            WriteProbe(
                "upload to A's session",
                _upload(f"{base}/sessions/{a.session_id}/photos"),
                frozenset({"studio_a"}),
            )
        ],
        ("POST", f"{base}/photos/{{photo_id}}/issue"): [
            WriteProbe(
                "issue P4 (B's)",
                _json("POST", f"{base}/photos/{p4.photo_id}/issue", idem=True),
                frozenset({"studio_b"}),
            )
        ],
        ("POST", f"{base}/photos/{{photo_id}}/reissue"): [
            WriteProbe(
                "re-issue P3's code (A's)",
                _json("POST", f"{base}/photos/{p3.photo_id}/reissue", idem=True),
                frozenset({"studio_a"}),
            )
        ],
        ("POST", f"{base}/claims"): [
            WriteProbe(
                "claim P3 by its code",
                _json("POST", f"{base}/claims", {"code": world.p3_code}, idem=True),
                MEMBERS,  # the code is the bearer's right to the photo
            ),
            WriteProbe(
                "claim a wrong code",
                _json("POST", f"{base}/claims", {"code": "7" * 64}, idem=True),
                frozenset(),
            ),
        ],
        ("POST", f"{base}/photos/{{photo_id}}/publish"): [
            WriteProbe(
                "publish P1",
                _json("POST", f"{base}/photos/{p1.photo_id}/publish", {"published": True}),
                frozenset({"citizen_a"}),
            ),
            WriteProbe(
                "unpublish P2",
                _json("POST", f"{base}/photos/{p2.photo_id}/publish", {"published": False}),
                frozenset({"citizen_a"}),
            ),
            WriteProbe(
                "publish P3 (unclaimed)",
                _json("POST", f"{base}/photos/{p3.photo_id}/publish", {"published": True}),
                frozenset(),
            ),
        ],
    }


def _gallery_probes(world: World) -> dict[tuple[str, str], list[WriteProbe]]:
    p1, p2 = world.photos["P1"], world.photos["P2"]
    owner, admin = frozenset({"citizen_a"}), frozenset({"admin"})
    far = world.gallery.chain.chain_time() + 86_400
    t1, t2 = p1.token_id, p2.token_id
    base = "/api/gallery"
    order = {"token_id": t2, "price": 10, "expiry": far}
    return {
        ("POST", f"{base}/listings"): [
            WriteProbe("list P2", _json("POST", f"{base}/listings", order), owner),
            WriteProbe(
                "list P1",
                _json("POST", f"{base}/listings", order | {"token_id": t1}),
                owner,
            ),
        ],
        ("DELETE", f"{base}/listings/{{order_id}}"): [
            WriteProbe(
                "cancel A's listing", _json("DELETE", f"{base}/listings/{world.listing_id}"), owner
            )
        ],
        ("POST", f"{base}/listings/{{order_id}}/buy"): [
            WriteProbe(
                "buy A's listing",
                _json("POST", f"{base}/listings/{world.listing_id}/buy", idem=True),
                MEMBERS,  # an open market: any member may buy
            )
        ],
        ("POST", f"{base}/me/cancel-all"): [
            WriteProbe("cancel all mine", _json("POST", f"{base}/me/cancel-all"), MEMBERS)
        ],
        ("POST", f"{base}/offers"): [
            WriteProbe("offer on P2", _json("POST", f"{base}/offers", order), MEMBERS)
        ],
        ("DELETE", f"{base}/offers/{{order_id}}"): [
            WriteProbe(
                "withdraw B's offer",
                _json("DELETE", f"{base}/offers/{world.offer_id}"),
                frozenset({"citizen_b"}),
            )
        ],
        ("POST", f"{base}/offers/{{order_id}}/accept"): [
            WriteProbe(
                "accept offer on A's work",
                _json("POST", f"{base}/offers/{world.offer_id}/accept", idem=True),
                owner,
                own={"citizen_b": frozenset({422})},  # B made the offer: self-trade
            )
        ],
        ("POST", f"{base}/auctions"): [
            WriteProbe(
                "auction P2",
                _json(
                    "POST",
                    f"{base}/auctions",
                    {"token_id": t2, "reserve": 1, "start": 0, "end": far},
                ),
                owner,
            )
        ],
        ("POST", f"{base}/auctions/{{auction_id}}/bids"): [
            WriteProbe(
                "bid on no auction",
                _json("POST", f"{base}/auctions/987654/bids", {"amount": 5}, idem=True),
                frozenset(),
            )
        ],
        ("POST", f"{base}/auctions/{{auction_id}}/settle"): [
            WriteProbe(
                "settle no auction", _json("POST", f"{base}/auctions/987654/settle"), frozenset()
            )
        ],
        ("POST", f"{base}/auctions/{{auction_id}}/cancel"): [
            WriteProbe(
                "cancel no auction", _json("POST", f"{base}/auctions/987654/cancel"), frozenset()
            )
        ],
        ("POST", f"{base}/auctions/{{auction_id}}/cancel-frozen"): [
            WriteProbe(
                "cancel-frozen no auction",
                _json("POST", f"{base}/auctions/987654/cancel-frozen", idem=True),
                frozenset(),
            )
        ],
        ("POST", f"{base}/listings/{{order_id}}/cancel-onchain"): [
            WriteProbe(
                "cancel A's listing on chain",
                _json("POST", f"{base}/listings/{world.listing_id}/cancel-onchain"),
                owner,
            )
        ],
        ("POST", f"{base}/offers/{{order_id}}/cancel-onchain"): [
            WriteProbe(
                "cancel B's offer on chain",
                _json("POST", f"{base}/offers/{world.offer_id}/cancel-onchain"),
                frozenset({"citizen_b"}),
            )
        ],
        ("POST", f"{base}/me/withdraw"): [
            WriteProbe(
                "withdraw my credit",
                _json("POST", f"{base}/me/withdraw", idem=True),
                frozenset(),
                # nobody here has a credit: each member's own (empty) credit is a 409
                own={p: frozenset({409}) for p in MEMBERS},
            )
        ],
        ("POST", f"{base}/reports"): [
            WriteProbe(
                "report P2",
                _json("POST", f"{base}/reports", {"token_id": t2, "kind": "copy", "text": "x"}),
                MEMBERS,  # anyone may report a work
            )
        ],
        ("POST", f"{base}/tokens/{{token_id}}/freeze"): [
            WriteProbe(
                "freeze P2",
                _json("POST", f"{base}/tokens/{t2}/freeze", {"reason_code": "copy"}),
                admin,
            )
        ],
        ("POST", f"{base}/tokens/{{token_id}}/unfreeze"): [
            WriteProbe("unfreeze P2", _json("POST", f"{base}/tokens/{t2}/unfreeze", {}), admin)
        ],
        ("POST", f"{base}/tokens/{{token_id}}/appeal"): [
            WriteProbe(
                "appeal for P2", _json("POST", f"{base}/tokens/{t2}/appeal", {"text": "x"}), owner
            )
        ],
        ("POST", f"{base}/exhibitions"): [
            WriteProbe(
                "exhibit P2 (A's work)",
                _json("POST", f"{base}/exhibitions", {"title_ko": "전시", "token_ids": [t2]}),
                frozenset({"studio_a", "admin"}),
            )
        ],
    }


def _write_routes(world: World) -> set[tuple[str, str]]:
    """Every POST/PATCH/DELETE route under /api/studio and /api/gallery in the app."""
    found = set()
    for path, methods in _routes(world):
        if path.startswith(("/api/studio", "/api/gallery")):
            found |= {(m, path) for m in methods & {"POST", "PATCH", "PUT", "DELETE"}}
    return found


def _snapshot(context: PlatformContext) -> dict[str, Any]:
    """Every row of every studio/gallery table, and how many outbox entries there are."""
    tables = [t for t in Base.metadata.sorted_tables if t.name.startswith(("studio", "gallery"))]
    with context.unit_of_work() as session:
        rows: dict[str, Any] = {
            t.name: sorted(map(tuple, session.execute(select(t)).all()), key=repr) for t in tables
        }
        rows["outbox_entries"] = session.scalar(select(func.count()).select_from(OutboxEntry))
        rows["idempotency"] = session.scalar(text("SELECT count(*) FROM idempotency_records"))
    return rows


def write_matrix(world: World, probes: dict[tuple[str, str], list[WriteProbe]]) -> Tally:
    """Every probe × every party that may not use it: refused, and nothing written."""
    tally = Tally()
    for (method, path), attempts in probes.items():
        for probe in attempts:
            for party in PARTIES:
                if party in probe.allowed:
                    tally.mark(party, probe.label, "allowed")
                    continue
                before = _snapshot(world.context)
                status = probe.send(world.client(party), world.headers(party)).status_code
                tally.mark(party, probe.label, str(status))
                expected = {401, 403} if party == "anonymous" else {403, 404}
                if status not in expected | probe.own.get(party, frozenset()):
                    tally.cross.append(f"{party} {method} {path} [{probe.label}] = {status}")
                if _snapshot(world.context) != before:
                    tally.cross.append(f"{party} {method} {path} [{probe.label}] changed rows")
    return tally


def test_write_matrix_refuses_every_other_party(world: World) -> None:
    probes = _studio_probes(world) | _gallery_probes(world)
    routes = _write_routes(world)
    assert routes == set(probes), f"routes without a probe: {routes - set(probes)}"
    tally = write_matrix(world, probes)
    print("\n" + tally.table("write routes"))
    for line in tally.cross:
        print("  !", line)
    tried = sum(v not in ("allowed", "-") for row in tally.cells.values() for v in row.values())
    assert tried > 150
    assert tally.cross == []


def test_write_matrix_catches_a_missing_ownership_check(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio_a = world.worlds["studio_a"].studio_id
    monkeypatch.setattr(GalleryService, "_active_studio", staticmethod(lambda s, u: studio_a))
    exhibit = _gallery_probes(world)[("POST", "/api/gallery/exhibitions")]
    tally = write_matrix(world, {("POST", "/api/gallery/exhibitions"): exhibit})
    print(f"\nmutation (any member curates): {len(tally.cross)} findings")
    # studio B passes the role gate; with the studio check gone it exhibits A's work
    assert any(c.startswith("studio_b ") and c.endswith("changed rows") for c in tally.cross)
    assert any(c.startswith("studio_b ") and c.endswith("= 201") for c in tally.cross)


# -- 4. a transfer outside the platform --------------------------------------------------------


def _wallet_transfer(world: World, token_id: int, owner: str, to: str) -> None:
    """Move a token as its owner would from a wallet, bypassing the platform (anvil)."""
    client = world.studio.outbox.client
    client.request("anvil_setBalance", [owner, hex(10**18)])
    client.request("anvil_impersonateAccount", [owner])
    data = world.studio.nft.encode_abi("transferFrom", [owner, to, token_id])
    tx_hash = client.request(
        "eth_sendTransaction", [{"from": owner, "to": world.studio.nft.address, "data": data}]
    )
    client.request("anvil_stopImpersonatingAccount", [owner])
    receipt = None
    for _ in range(100):  # automine answers within a block; allow for a busy machine
        receipt = client.receipt(tx_hash)
        if receipt is not None:
            break
        time.sleep(0.05)
    assert receipt is not None and int(receipt["status"], 16) == 1, receipt


def test_a_wallet_transfer_makes_the_work_private_everywhere(world: World) -> None:
    """A transfer makes the token private on chain; no answer may keep showing its CIDs."""
    p2, seller, buyer = world.photos["P2"], world.actors["citizen_a"], world.actors["citizen_b"]
    assert p2.token_id is not None
    _wallet_transfer(world, p2.token_id, seller.address, buyer.address)
    p2.owner, p2.published = "citizen_b", False
    # records first: a gateway read would bring the database up to date on its own
    stale = Tally()
    check_records(world, stale)
    for line in stale.cross:
        print("  ! before any gateway read:", line)
    assert stale.cross == []
    tally = content_matrix(world, "content: P2 moved to citizen B by a wallet transfer")
    assert tally.cross == [] and tally.wrong == []
