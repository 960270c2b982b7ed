"""Schema-driven fuzzing of the gallery routes only (the whole-API fuzz lives in tests/http):
every generated request gets a 4xx or a success, never a 5xx, and a refusal changes no row."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.http.test_bad_input_fuzz import (
    _calls,
    _request,
    _row_counts,
    _url,
    fuzz_admin,  # noqa: F401 (fixture)
)
from tests.token.conftest import Actor


def test_gallery_routes_never_answer_5xx(
    context: PlatformContext,
    fuzz_admin: Actor,  # noqa: F811 (fixture)
) -> None:
    client = TestClient(create_app(context), raise_server_exceptions=False)
    client.cookies = fuzz_admin.client.cookies
    spec = client.get("/openapi.json").json()
    spec["paths"] = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/gallery")}
    seen: dict[int, int] = {}

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=True,
    )
    @given(call=_calls(spec))
    def one(call: dict[str, Any]) -> None:
        call["url"] = _url(call)
        before = _row_counts(context)
        response = _request(client, fuzz_admin.headers, call)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (call, response.status_code, response.text[:500])
        if response.status_code >= 400:
            assert _row_counts(context) == before, (call, response.status_code)
            assert response.json()["error"]["message"]

    one()
    assert any(400 <= code < 500 for code in seen), seen
