"""Every operation of every service that takes a JSON body, found in the service's own OpenAPI
document and called on a real process: a body nested past the limit is a 400 naming it, and a
body sent as anything but JSON is a 415 (never a 500, never read with lax rules).

Upstreams name a closed port and the processes use the contract tests' Redis database: nothing
here reaches past the door, which is the point."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts.topology import SERVICES, Service
from plantbridge.processes import RedisServer, ServiceProcess, free_port
from tests.support.fixtures import Launch
from tests.support.http import auth_headers

UPSTREAMS = ("erp", "qms", "cmms", "mes", "xref", "quality", "maintenance")
# Claims the experience APIs act on (a supplier's id, a technician's person and site).
CLAIMS = {"supplier_id": "SUP-HOSTILE", "person_id": "P-HOSTILE", "site": "PLANT-1"}
DEEP = b'{"x": ' + b"[" * 600 + b"]" * 600 + b"}"
PLAIN = b'{"quantity": "5", "conforming": 0}'
# Take no JSON bodies (operations' replays and retries carry none; the shop-floor connector's API
# only reads); should that change, so must this.
WITHOUT_BODIES = {"operations", "shopfloor"}


def operations_with_bodies(document: dict[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    """Operations taking JSON: (method, path with its parameters filled in, the scopes it needs)."""
    for path, item in document["paths"].items():
        for method, op in item.items():
            takes = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            if "application/json" not in takes:
                continue  # no body, or a file upload (its body is the file in its own type)
            for parameter in op.get("parameters", []):
                if parameter.get("in") == "path":
                    kind = parameter.get("schema", {}).get("type")
                    path = path.replace(f"{{{parameter['name']}}}", "1" if kind == "integer" else "X-1")
            scopes = sorted(
                {s for requirement in op.get("security", []) for v in requirement.values() for s in v}
            )
            yield method.upper(), path, scopes


@pytest.fixture(scope="module", params=[s for s in SERVICES if s.name != "gateway"], ids=lambda s: s.name)
def service(
    request: pytest.FixtureRequest, launch: Launch, database_url, redis_server: RedisServer
) -> Iterator[ServiceProcess]:
    spec: Service = request.param
    nowhere = f"http://127.0.0.1:{free_port()}"
    process = launch(
        spec.name,
        database_url=database_url("sqlite", f"{spec.name}_hostile") if spec.uses_database else None,
        redis_url=redis_server.url.rsplit("/", 1)[0] + "/1",
        auth_token_url=f"{nowhere}/oauth2/token",
        **{f"{upstream}_url": nowhere for upstream in UPSTREAMS if upstream != spec.name},
    )
    yield process
    process.stop()


def test_every_json_body_is_held_to_its_media_type_and_depth(service: ServiceProcess) -> None:
    name = service.name
    document = httpx.get(f"{service.url}/{name}/schema/openapi.json", timeout=10).json()
    operations = list(operations_with_bodies(document))
    assert bool(operations) != (name in WITHOUT_BODIES), f"{name}: {len(operations)} operations with a body"
    failures = []
    with httpx.Client(base_url=service.url, timeout=10) as http:
        for method, path, scopes in operations:
            headers = auth_headers(scopes, claims=CLAIMS)
            deep = http.request(
                method, path, content=DEEP, headers={**headers, "Content-Type": "application/json"}
            )
            problem = deep.json() if deep.headers.get("content-type") == "application/problem+json" else {}
            if deep.status_code != 400 or problem.get("type") != "urn:plantbridge:problem:json-too-deep":
                failures.append(f"{method} {path} deep: {deep.status_code} {deep.text[:120]}")
            plain = http.request(
                method, path, content=PLAIN, headers={**headers, "Content-Type": "text/plain"}
            )
            if plain.status_code != 415:
                failures.append(f"{method} {path} text/plain: {plain.status_code} {plain.text[:120]}")
    assert failures == []
