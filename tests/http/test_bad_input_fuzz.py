"""Schema-driven fuzzing of the whole JSON API with Hypothesis.

Every operation in the OpenAPI spec is called with generated path parameters, query
parameters, Idempotency-Keys and bodies: odd Unicode, huge and negative numbers, wrong types,
malformed addresses and hashes, extra fields, nesting and non-JSON bytes. Whatever arrives,
the answer must be a 4xx or a success, never a 5xx; and a refused request must leave every
table as it was (login throttling records excepted: counting failures is their job).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select, table

from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.token.conftest import Actor, actor

# Tables whose rows a refused request may legitimately change.
REFUSALS_MAY_TOUCH = {"login_failures", "auth_sessions"}

ODD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=80
)
ADDRESSISH = st.one_of(
    st.just("0x" + "0" * 40),
    st.just("0x" + "g" * 40),
    st.just("0xAbCdEf0123456789abcdef0123456789ABCDEF01"),  # bad checksum
    st.from_regex(r"\A0x[0-9a-fA-F]{0,70}\Z"),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=False),
    st.just(0),
    st.just(-1),
    st.just(10**40),
)
SCALARS = st.one_of(ODD_TEXT, ADDRESSISH, NUMBERS, st.booleans(), st.none())
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ODD_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
PATH_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    ODD_TEXT.filter(lambda s: "/" not in s and s not in ("", ".", "..")),
    ADDRESSISH,
    st.from_regex(r"\A0x[0-9a-f]{60,70}\Z"),
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=250)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _bodies(spec: dict[str, Any], operation: dict[str, Any]) -> st.SearchStrategy[Any]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = _resolve(spec, content.get("application/json", {}).get("schema", {}))
    fields = list(schema.get("properties", {}))
    shaped = st.fixed_dictionaries(
        {}, optional={name: st.one_of(SCALARS, JSONISH) for name in fields}
    )
    return st.one_of(shaped, JSONISH)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if path != "/api/accounts/logout"  # logging the fuzzing user out ends the run early
    ]


def _row_counts(context: PlatformContext) -> dict[str, int]:
    names = inspect(context.engine).get_table_names()
    with context.engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table(name))).scalar() or 0)
            for name in names
            if name not in REFUSALS_MAY_TOUCH and name != "alembic_version"
        }


def _request(client: TestClient, headers: dict[str, str], call: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers | call["headers"], "params": call["params"]}
    if call["raw"] is not None:
        kwargs["content"] = call["raw"]
        kwargs["headers"] = kwargs["headers"] | {"content-type": "application/json"}
    elif call["body"] is not None:
        kwargs["content"] = json.dumps(call["body"], ensure_ascii=False, default=str)
        kwargs["headers"] = kwargs["headers"] | {"content-type": "application/json"}
    return client.request(call["method"], call["url"], **kwargs)


def _calls(spec: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    def for_operation(item: tuple[str, str, dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        method, path, op = item
        params = op.get("parameters", [])
        path_names = [p["name"] for p in params if p["in"] == "path"]
        query_names = [p["name"] for p in params if p["in"] == "query"]
        header_names = [p["name"] for p in params if p["in"] == "header"]
        return st.fixed_dictionaries(
            {
                "method": st.just(method),
                "path": st.just(path),
                "path_values": st.fixed_dictionaries({n: PATH_VALUES for n in path_names}),
                "params": st.fixed_dictionaries({}, optional={n: PATH_VALUES for n in query_names}),
                "headers": st.fixed_dictionaries(
                    {}, optional={n: HEADER_TEXT for n in header_names}
                ),
                "body": _bodies(spec, op) if "requestBody" in op else st.none(),
                "raw": st.one_of(st.none(), st.binary(max_size=64))
                if "requestBody" in op
                else st.none(),
            }
        )

    return st.sampled_from(_operations(spec)).flatmap(for_operation)


def _url(call: dict[str, Any]) -> str:
    from urllib.parse import quote

    url = call["path"]
    for name, value in call["path_values"].items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    return url


@pytest.fixture
def fuzz_admin(context: PlatformContext) -> Actor:
    from busanchain.deployment.service import DeploymentService
    from busanchain.outbox.service import OutboxService
    from busanchain.platform.operator import operator_signer

    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    return actor(context, "fuzzadmin", Role.ADMIN, Role.OFFICIAL)


def test_no_input_causes_a_5xx_or_partial_state(
    context: PlatformContext, fuzz_admin: Actor
) -> None:
    client = TestClient(create_app(context), raise_server_exceptions=False)
    client.cookies = fuzz_admin.client.cookies
    spec = client.get("/openapi.json").json()
    seen: dict[int, int] = {}

    @settings(
        max_examples=400,
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
            body = response.json()
            assert body["error"]["message"], body

    one()
    assert any(400 <= code < 500 for code in seen), seen


@pytest.mark.parametrize("value", [str(2**31), str(2**63 - 1), str(2**63), str(2**64)])
def test_ids_past_the_database_integer_ranges_are_refused_not_500(
    context: PlatformContext, fuzz_admin: Actor, value: str
) -> None:
    """Every GET route with a path parameter, pages included, with an id past INTEGER/BIGINT.

    PostgreSQL refuses such a value in a query on a 32-bit key ("integer out of range"), so a
    route that does not bound its ids answers 500 there; the random fuzz rarely hits it.
    """
    client = TestClient(create_app(context), raise_server_exceptions=False)
    client.cookies = fuzz_admin.client.cookies
    failures = []
    routes = iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
    gets = sorted({r.path for r in routes if r.path and "GET" in (r.methods or ())})
    assert any(p.startswith("/api/gallery/listings/") for p in gets)  # routers are walked
    for path in gets:
        if "{" not in path:
            continue
        url = re.sub(r"\{[^}/]+(:path)?\}", value, path)
        status = client.get(url, headers=fuzz_admin.headers).status_code
        if status >= 500:
            failures.append(f"{url} = {status}")
    assert failures == [], "\n".join(failures)
