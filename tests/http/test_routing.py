"""Path gates: a request walks only the routers that could match it, and routes as before."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from busanchain.http.routing import gate_of, gate_routers, leaf_paths
from busanchain.http.templating import STATIC_DIR
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app

PARAM = re.compile(r"\{[^}]*\}")


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}


def _small_app() -> FastAPI:
    router = APIRouter()
    router.add_api_route("/a", lambda: "a")
    router.add_api_route("/a/{x}", lambda x: x)
    router.add_api_route("/b/{y}/c", lambda y: y)
    router.routes.append(Mount("/m", app=StaticFiles(directory=STATIC_DIR)))
    app = FastAPI()
    app.include_router(router)
    return app


def test_gate_of_a_router() -> None:
    route = _small_app().router.routes[-1]
    assert isinstance(route, _IncludedRouter)
    gate = gate_of(route)
    assert gate.exact == frozenset({"/a"})
    assert gate.prefixes == ("/a/", "/b/", "/m")
    assert gate.admits("/a") and gate.admits("/a/1") and gate.admits("/b/2/c")
    assert gate.admits("/m") and gate.admits("/m/app.css")
    assert not gate.admits("/ab") and not gate.admits("/b") and not gate.admits("/")


def _leaf_paths(app: FastAPI) -> list[str]:
    paths = [
        path
        for route in app.router.routes
        if isinstance(route, _IncludedRouter)
        for path, _mount in leaf_paths(route)
    ]
    return sorted({PARAM.sub("1", path) for path in paths if path})


def _matches_unchanged(app: FastAPI, path: str) -> None:
    """Every gated router answers what it would without its gate."""
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            for method in ("GET", "POST"):
                gated, _ = route.matches(_scope(path, method))
                ungated, _ = _IncludedRouter.matches(route, _scope(path, method))
                assert gated == ungated, (path, method, route.original_router.routes[0])


def test_every_route_still_matches(context: PlatformContext) -> None:
    app = create_app(context)
    paths = _leaf_paths(app)
    assert len(paths) > 150
    for path in paths:
        for variant in (path, path + "/", path.rstrip("/"), path + "x", path[:-1]):
            _matches_unchanged(app, variant)


def test_random_paths_match_as_before(context: PlatformContext) -> None:
    app = create_app(context)
    segments = sorted(
        {part for path in _leaf_paths(app) for part in path.split("/")} | {"1", "x", ""}
    )

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.sampled_from(segments), min_size=1, max_size=5))
    def check(parts: list[str]) -> None:
        _matches_unchanged(app, "/" + "/".join(parts))

    check()


def test_a_gallery_page_walks_its_own_routers(context: PlatformContext) -> None:
    app = create_app(context)
    gates = gate_routers(app)  # a second set of gates: the ones create_app installed stay
    routers = [p for p, gate in gates.items() if gate.admits("/gallery/tokens/7")]
    assert 1 <= len(routers) <= 2, routers  # the system router ("/") and the gallery pages
    assert len(gates) > 20


def test_answers_through_the_gates(context: PlatformContext) -> None:
    client = TestClient(create_app(context), follow_redirects=False)
    assert client.get("/api/gallery/tokens").status_code == 200
    assert client.get("/api/health/").status_code in (307, 308)  # trailing slash: redirect
    assert client.put("/api/gallery/tokens", json={}).status_code == 405
    missing = client.get("/api/gallery/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "http_404"
