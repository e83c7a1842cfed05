"""Every operation of every service refuses a query parameter it does not declare (400 naming it),
and accepts exactly the query parameters its OpenAPI document declares.

The operations come from each service's own app and document, so an endpoint added anywhere is
checked without touching this file. Apps are built as `plantbridge serve` builds them and called
through their whole ASGI stack (auth included), without their lifespan: nothing here reaches a
database, which is the point (the refusal comes before any work). Signed webhook receivers
(public: no token, the sender authenticates each request) are left out: they take what a partner
sends, and a partner's retry of a refused delivery would not fix it."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from contracts.kit.auth import BEARER_SCHEME, route_scopes
from contracts.kit.strict_query import SLUG, StrictQueryMiddleware
from contracts.topology import SERVICES, Service
from tests.support.http import auth_headers
from tests.support.tokens import auth_settings

PROBE = "pb_not_a_parameter"
CLAIMS = {"supplier_id": "SUP-PROBE", "person_id": "P-PROBE", "site": "PLANT-1"}


@pytest.fixture(scope="module", params=[s for s in SERVICES if s.name != "gateway"], ids=lambda s: s.name)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    service: Service = request.param
    module, _, factory = service.factory.partition(":")
    folder: Path = tmp_path_factory.mktemp(f"strict_{service.name}")
    built: Litestar = getattr(importlib.import_module(module), factory)(
        database_url=f"sqlite+aiosqlite:///{folder}/db.sqlite", **auth_settings()
    )
    return built


def operations(app: Litestar) -> Iterator[tuple[str, str, list[str], set[str]]]:
    """(method, path with its parameters filled in, scopes, query names) of each API operation."""
    document = app.openapi_schema.to_schema()
    service = str(app.state["runtime"].metrics.service)
    for path, item in document["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or method == "options" or not _bearer(op):
                continue
            query = set()
            for parameter in op.get("parameters", []):
                if parameter.get("in") == "path":
                    kind = parameter.get("schema", {}).get("type")
                    path = path.replace(f"{{{parameter['name']}}}", "1" if kind == "integer" else "X-1")
                elif parameter.get("in") == "query":
                    query.add(parameter["name"])
            scopes = sorted({s for req in op.get("security", []) for v in req.values() for s in v})
            yield method.upper(), path, scopes or list(route_scopes({}, service, method.upper())), query


def _bearer(op: dict[str, Any]) -> bool:
    """Called with an access token (not a signed webhook receiver)."""
    return any(BEARER_SCHEME in requirement for requirement in op.get("security", []))


async def test_an_unknown_query_parameter_is_refused_and_named(app: Litestar) -> None:
    found = list(operations(app))
    assert found, "the service documents no operation"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        for method, path, scopes, declared in found:
            headers = auth_headers(scopes, claims=CLAIMS)
            # A declared parameter beside it does not hide it, and the answer names only the stranger.
            known = {name: "1" for name in sorted(declared)[:1]}
            answer = await http.request(method, path, params={**known, PROBE: "1"}, headers=headers)
            where = f"{method} {path}"
            assert answer.status_code == 400, f"{where}: {answer.status_code} {answer.text[:300]}"
            problem = answer.json()
            assert problem["type"].endswith(f":{SLUG}"), f"{where}: {problem}"
            assert problem["unknown_parameters"] == [PROBE], where
            assert PROBE in problem["detail"], where
            assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_accepted_names_are_the_documented_ones(app: Litestar) -> None:
    """What the middleware lets through is what the document promises, operation by operation."""
    strict = _strict_table(app)
    documented = {(m, p): q for m, p, _, q in operations(app)}
    checked = 0
    for route in app.routes:
        for method, (handler, _) in getattr(route, "route_handler_map", {}).items():
            key = (method, _filled(route.path))
            if key in documented:
                assert set(strict[id(handler)]) == documented[key], f"{method} {route.path}"
                checked += 1
    assert checked == len(documented)


def _strict_table(app: Litestar) -> dict[int, frozenset[str]]:
    for route in app.routes:
        for handler, _ in getattr(route, "route_handler_map", {}).values():
            for middleware in handler.resolve_middleware():
                if getattr(middleware, "middleware", None) is StrictQueryMiddleware:
                    table: dict[int, frozenset[str]] = middleware.kwargs["strict"].names
                    return table
    raise AssertionError("no API router runs StrictQueryMiddleware")


def _filled(path: str) -> str:
    """A route's path as `operations` fills it in (`{x:int}` -> 1, any other parameter -> X-1)."""
    return re.sub(r"\{\w+:(\w+)\}", lambda m: "1" if m[1] == "int" else "X-1", path)
