"""What the gateway shows about itself: metrics and the routing table only to those entitled,
and the RFC 8414 metadata names every scope a client can be given."""

from __future__ import annotations

import httpx
import pytest

from contracts.topology import SERVICES
from gateway.routing import ROUTES
from plantbridge.governance import documents
from plantbridge.launcher import OPERATOR_SCOPES
from tests.gateway.conftest import Stack
from tests.support.http import auth_headers

pytestmark = pytest.mark.e2e


def test_metrics_need_the_metrics_scope(stack: Stack) -> None:
    url = f"{stack.gateway.url}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=auth_headers(["erp:read", "gateway:read"])).status_code == 403
    answer = httpx.get(url, headers=auth_headers(["metrics:read"]))
    assert answer.status_code == 200
    assert "plantbridge_gateway_requests_total" in answer.text


def test_the_routing_table_needs_gateway_read(stack: Stack) -> None:
    url = f"{stack.gateway.url}/gateway/routes"
    assert httpx.get(url).status_code == 401
    supplier = auth_headers(["supplier:portal"], claims={"supplier_id": "SUP-ACME"})
    refused = httpx.get(url, headers=supplier)
    assert refused.status_code == 403
    assert "http://" not in refused.text  # no upstream address leaks in the refusal
    answer = httpx.get(url, headers=auth_headers(["gateway:read"]))
    assert answer.status_code == 200
    assert {r["prefix"]: r["upstream"] for r in answer.json()}["/erp/v1"] == stack.erp.url


def documented_scopes() -> set[str]:
    """What each API's committed OpenAPI document says it checks."""
    found: set[str] = set()
    for path in documents.OPENAPI_DIR.glob("*.json"):
        schemes = documents.load(path).get("components", {}).get("securitySchemes", {})
        flows = [f for scheme in schemes.values() for f in scheme.get("flows", {}).values()]  # not apiKey
        found |= {s for flow in flows for s in flow["scopes"]}
    return found


def test_the_metadata_lists_every_scope(stack: Stack) -> None:
    meta = httpx.get(f"{stack.gateway.url}/.well-known/oauth-authorization-server").json()
    everything = {
        *documented_scopes(),
        *(s for r in ROUTES for s in (*r.read_scopes, *r.write_scopes)),
        *OPERATOR_SCOPES,
        *(s for service in SERVICES for s in service.client_scopes),
        "gateway:read",
        "metrics:read",
        "token:introspect",
    }
    assert everything <= set(meta["scopes_supported"]), everything - set(meta["scopes_supported"])
