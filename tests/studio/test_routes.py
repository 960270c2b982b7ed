"""The studio JSON API end to end over HTTP: the happy path and bad input (4xx, never 5xx)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from tests.merchants.conftest import bizno
from tests.studio.studio_support import camera_photo
from tests.token.conftest import Actor, actor, platform  # noqa: F401 (fixture)


@pytest.fixture
def people(platform: PlatformContext) -> Iterator[dict[str, Actor]]:  # noqa: F811 (fixture)
    cast = {
        "studio": actor(platform, "studio-http", Role.STUDIO),
        "admin": actor(platform, "admin-http", Role.ADMIN),
        "citizen": actor(platform, "citizen-http", Role.CITIZEN),
    }
    yield cast
    for a in cast.values():
        a.client.close()


def _post(a: Actor, url: str, body: object = None, **headers: str) -> object:
    return a.client.post(url, json=body, headers=a.headers | headers)


def _upload(a: Actor, session_id: int, *files: tuple[str, bytes], force: bool = False) -> object:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return a.client.post(
        f"/api/studio/sessions/{session_id}/photos",
        files=parts,
        data={"force": "true" if force else "false"},
        headers=a.headers,
    )


def _open_studio(people: dict[str, Actor]) -> int:
    studio, admin = people["studio"], people["admin"]
    body = {
        "name_ko": "해운대 사진관",
        "name_en": "Haeundae Photo",
        "business_number": bizno("111222333"),
    }
    created = _post(studio, "/api/studio/studios", body)
    assert created.status_code == 201, created.text
    studio_id = created.json()["id"]
    approved = _post(admin, f"/api/studio/studios/{studio_id}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"
    session = _post(studio, "/api/studio/sessions", {"code": "WED-0612"})
    assert session.status_code == 201, session.text
    return int(session.json()["id"])


def test_the_whole_happy_path_over_http(people: dict[str, Actor]) -> None:
    studio, citizen = people["studio"], people["citizen"]
    session_id = _open_studio(people)
    added = _post(studio, "/api/studio/me/photographers", {"name": "박작가", "royalty_bps": 800})
    assert added.status_code == 201, added.text
    uploaded = _upload(studio, session_id, ("a.jpg", camera_photo(61)), ("b.jpg", camera_photo(62)))
    assert uploaded.status_code == 201, uploaded.text
    photo = uploaded.json()[0]
    issued = _post(
        studio,
        f"/api/studio/photos/{photo['id']}/issue",
        None,
        **{"Idempotency-Key": "issue-http-1"},
    )
    assert issued.status_code == 201, issued.text
    code = issued.json()["claim_code"]
    assert issued.json()["claim_url"] == f"/claim/{code}"
    claimed = _post(
        citizen, "/api/studio/claims", {"code": code}, **{"Idempotency-Key": "claim-http-1"}
    )
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["owner_address"] == citizen.address
    again = _post(
        citizen, "/api/studio/claims", {"code": code}, **{"Idempotency-Key": "claim-http-2"}
    )
    assert again.status_code == 409 and again.json()["error"]["message"]
    mine = citizen.client.get("/api/studio/me/photos").json()
    assert [p["id"] for p in mine] == [photo["id"]]
    image = citizen.client.get(f"/api/studio/photos/{photo['id']}/image?size=original")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.headers["etag"] == f'"{photo["cid"]}"'
    assert "immutable" not in image.headers["cache-control"]
    assert studio.client.get(f"/api/studio/photos/{photo['id']}/image").status_code == 404
    published = _post(citizen, f"/api/studio/photos/{photo['id']}/publish", {"published": True})
    assert published.status_code == 200, published.text
    anonymous = TestClient(citizen.client.app)
    public = anonymous.get(f"/ipfs/{photo['cid']}")
    assert public.status_code == 200 and "immutable" in public.headers["cache-control"]
    thumb = anonymous.get(f"/api/studio/photos/{photo['id']}/image?size=320")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    cached = anonymous.get(f"/ipfs/{photo['cid']}", headers={"If-None-Match": f'"{photo["cid"]}"'})
    assert cached.status_code == 304
    hidden = _post(citizen, f"/api/studio/photos/{photo['id']}/publish", {"published": False})
    assert hidden.status_code == 200, hidden.text
    assert anonymous.get(f"/ipfs/{photo['cid']}").status_code == 404


def test_bad_input_is_a_clear_4xx(people: dict[str, Actor]) -> None:
    studio, citizen = people["studio"], people["citizen"]
    bad_number = {"name_ko": "사진관", "business_number": "123-45-67890"}
    refused = _post(studio, "/api/studio/studios", bad_number)
    assert refused.status_code == 422
    session_id = _open_studio(people)
    for lang in ("ko", "en"):
        answer = studio.client.post(
            f"/api/studio/sessions/{session_id}/photos?lang={lang}",
            files=[("files", ("x.jpg", b"plain text, not a photo", "image/jpeg"))],
            headers=studio.headers,
        )
        assert 400 <= answer.status_code < 500 and answer.json()["error"]["message"]
    assert _upload(studio, session_id).status_code == 422  # no files
    too_high = _post(studio, "/api/studio/me/photographers", {"name": "A", "royalty_bps": 1001})
    assert too_high.status_code == 422
    personal = _post(studio, "/api/studio/sessions", {"code": "010 1234 5678"})
    assert personal.status_code == 422
    photo = _upload(studio, session_id, ("a.jpg", camera_photo(71))).json()[0]
    no_key = _post(studio, f"/api/studio/photos/{photo['id']}/issue")
    assert no_key.status_code == 422
    duplicate = _upload(studio, session_id, ("a.jpg", camera_photo(71)))
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "photo_duplicate"
    bad_code = _post(
        citizen, "/api/studio/claims", {"code": "zz"}, **{"Idempotency-Key": "claim-bad-1"}
    )
    assert bad_code.status_code == 422
    unknown = _post(
        citizen, "/api/studio/claims", {"code": "cd" * 32}, **{"Idempotency-Key": "claim-bad-2"}
    )
    assert unknown.status_code == 404
    size = citizen.client.get(f"/api/studio/photos/{photo['id']}/image?size=huge")
    assert size.status_code in (404, 422)
    assert studio.client.get(f"/api/studio/photos/{photo['id']}/image?size=huge").status_code == 422
    assert citizen.client.get("/ipfs/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_camera_sized_photos_pass_the_body_limit(people: dict[str, Actor]) -> None:
    studio = people["studio"]
    session_id = _open_studio(people)
    big = camera_photo(91, 2400, 1800)
    assert len(big) > 1_000_000  # above the API's general 1 MB body limit
    answer = _upload(studio, session_id, ("big.jpg", big))
    assert answer.status_code == 201, answer.text
    assert answer.json()[0]["width"] == 2400
    other = studio.client.post(
        "/api/studio/sessions", content=b"x" * 1_100_000, headers=studio.headers
    )
    assert other.status_code == 413  # only the upload path has the larger cap
