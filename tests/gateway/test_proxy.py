"""Routing and the proxy's failure modes: dead and slow upstreams, body limit, CORS, correlation,
metrics, and tokens from an external identity provider whose JWKS is served on loopback."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from plantbridge.processes import free_port
from tests.gateway.conftest import StartGateway
from tests.support.http import auth_headers
from tests.support.tokens import TokenIssuer, test_issuer

PORTAL = "https://portal.plant.example"


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(2)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # the gateway gave up waiting, as it should
            self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


class _Jwks(BaseHTTPRequestHandler):
    issuer: TokenIssuer
    fetches = 0

    def do_GET(self) -> None:
        type(self).fetches += 1
        body = json.dumps(self.issuer.jwks()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[ThreadingHTTPServer]:
    yield from serve(_Slow)


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TokenIssuer, type[_Jwks], str]]:
    issuer = TokenIssuer(
        Path(tmp_path_factory.mktemp("idp")), issuer="https://idp.plant.example/realms/plant"
    )
    handler = type("IdpJwks", (_Jwks,), {"issuer": issuer, "fetches": 0})
    for server in serve(handler):
        yield issuer, handler, f"http://127.0.0.1:{server.server_port}/certs"


@pytest.fixture(scope="module")
def edge(launch, start_gateway: StartGateway, database_url, slow_upstream, idp):
    issuer, _, jwks_url = idp
    trusted = f"{test_issuer().setting},{issuer.issuer}={jwks_url}"
    erp = launch(
        "erp",
        database_url=database_url("sqlite", "gateway_proxy_erp"),
        auth_issuers=trusted,
        auth_jwks_refresh_seconds="0.2",
    )
    dead = f"http://127.0.0.1:{free_port()}"
    gateway = start_gateway(
        upstreams=f"erp={erp.url},qms={dead},mes=http://127.0.0.1:{slow_upstream.server_port}",
        upstream_timeout_seconds="0.5",
        breaker_failures="3",
        breaker_open_seconds="30",
        max_body_bytes="2048",
        cors_origins=PORTAL,
        auth_issuers=trusted,
        auth_jwks_refresh_seconds="0.2",
    )
    return gateway, erp


def test_dead_upstream_is_a_503_problem_and_the_breaker_stops_calling_it(edge) -> None:
    gateway, _ = edge
    headers = auth_headers(["qms:read"])
    answers = [httpx.get(f"{gateway.url}/qms/v1/lots", headers=headers) for _ in range(5)]
    assert all(a.status_code == 503 for a in answers)
    assert all(a.json()["type"] == "urn:plantbridge:problem:upstream-unavailable" for a in answers)
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers)
    # After three failures the circuit is open: the answer says so without trying to connect.
    assert "cannot be reached" in answers[0].json()["detail"]
    assert answers[-1].json()["detail"] == "The qms service is unavailable; retry later."
    assert int(answers[-1].headers["Retry-After"]) > 1


def test_slow_upstream_is_a_504_problem(edge) -> None:
    gateway, _ = edge
    response = httpx.get(f"{gateway.url}/mes/v1/orders", headers=auth_headers(["mes:read"]), timeout=10)
    assert response.status_code == 504
    assert response.json()["type"] == "urn:plantbridge:problem:upstream-timeout"


def test_bodies_over_the_limit_are_refused(edge) -> None:
    gateway, _ = edge
    big = {"item_id": "BIG-1", "description": "x" * 4000}
    response = httpx.post(f"{gateway.url}/erp/v1/items", json=big, headers=auth_headers(["erp:write"]))
    assert response.status_code == 413
    assert response.json()["type"] == "urn:plantbridge:problem:payload-too-large"


def test_unknown_routes_and_bad_paths(edge) -> None:
    gateway, _ = edge
    headers = auth_headers(["erp:read"])
    assert httpx.get(f"{gateway.url}/nothing/v1/x", headers=headers).status_code == 404
    assert httpx.get(f"{gateway.url}/erp/v9/items", headers=headers).status_code == 404
    assert httpx.get(f"{gateway.url}/erp/v1//items", headers=headers).status_code == 400


def test_cors_for_portal_origins_only(edge) -> None:
    gateway, _ = edge
    preflight = httpx.options(
        f"{gateway.url}/erp/v1/items",
        headers={
            "Origin": PORTAL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    real = httpx.get(f"{gateway.url}/erp/v1/items", headers={"Origin": PORTAL, **auth_headers(["erp:read"])})
    assert real.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "ratelimit" in real.headers["Access-Control-Expose-Headers"]
    other = httpx.get(
        f"{gateway.url}/erp/v1/items",
        headers={"Origin": "https://evil.example", **auth_headers(["erp:read"])},
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_correlation_id_and_traceparent_pass_through(edge) -> None:
    gateway, _ = edge
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = httpx.get(
        f"{gateway.url}/erp/v1/items",
        headers={
            "X-Correlation-ID": "corr-gw-42",
            "traceparent": f"00-{trace}-00f067aa0ba902b7-01",
            **auth_headers(["erp:read"]),
        },
    )
    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == "corr-gw-42"
    assert response.headers["traceparent"].startswith(f"00-{trace}-")
    fresh = httpx.get(f"{gateway.url}/erp/v1/items", headers=auth_headers(["erp:read"]))
    assert len(fresh.headers["X-Correlation-ID"]) == 36
    assert fresh.headers["traceparent"].count("-") == 3


def test_outside_callers_cannot_claim_to_be_a_flow_or_an_event(edge) -> None:
    """The audit trail's "why" (flow, causing event) and "who" (whom a call acts for) come from
    the platform, never from outside."""
    gateway, _ = edge
    created = httpx.post(
        f"{gateway.url}/erp/v1/items",
        json={"item_id": "RM-FORGED-1", "description": "forged why", "inspection_required": False},
        headers={
            "X-Correlation-ID": "corr-forged-1",
            "X-Flow-ID": "FLOW-FORGED",
            "X-Causation-ID": "EVENT-FORGED",
            "X-Acting-For": "client=tablet-9&person=P-CEO",
            **auth_headers(["erp:write"]),
        },
    )
    assert created.status_code == 201, created.text
    audit = httpx.get(
        f"{gateway.url}/erp/v1/audit",
        params={"record_type": "items", "record_id": "RM-FORGED-1"},
        headers=auth_headers(["erp:read"]),
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert entry["correlation_id"] == "corr-forged-1"  # a caller's own correlation id is welcome
    assert entry["flow_id"] is None
    assert entry["causation_id"] is None
    assert (entry["actor"]["person_id"], entry["actor"]["via"]) == (None, None)


def test_metrics_per_route_and_client(edge) -> None:
    gateway, _ = edge
    httpx.get(f"{gateway.url}/erp/v1/items", headers=auth_headers(["erp:read"], client_id="metrics-client"))
    text = httpx.get(f"{gateway.url}/metrics", headers=auth_headers(["metrics:read"])).text
    assert 'plantbridge_gateway_requests_total{client="metrics-client",route="erp",status="200"}' in text
    assert "plantbridge_gateway_request_seconds_bucket" in text
    assert httpx.get(f"{gateway.url}/health/ready").status_code == 200


def test_external_identity_provider_tokens_work_and_new_kids_are_fetched(edge, idp) -> None:
    gateway, erp = edge
    issuer, handler, _ = idp
    # Keycloak style: azp names the client, scope is a string.
    claims = issuer.claims(["erp:read"], client_id="ignored")
    del claims["client_id"]
    claims["azp"] = "plant-mes"
    for base in (gateway.url, erp.url):
        response = httpx.get(
            f"{base}/erp/v1/items", headers={"Authorization": f"Bearer {issuer.sign(claims)}"}
        )
        assert response.status_code == 200, response.text
    fetched = handler.fetches
    issuer.rotate("rotated-kid")
    time.sleep(0.3)  # past the refetch throttle
    rotated = issuer.sign(claims)
    for base in (gateway.url, erp.url):
        response = httpx.get(f"{base}/erp/v1/items", headers={"Authorization": f"Bearer {rotated}"})
        assert response.status_code == 200, response.text
    assert handler.fetches > fetched
    # A flood of unknown kids does not hammer the provider: one refetch per throttle window at most.
    before, started = handler.fetches, time.monotonic()
    _, body, sig = rotated.split(".")
    for i in range(30):
        forged_head = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": f"unknown-{i}"}).encode())
        forged = f"{forged_head.rstrip(b'=').decode()}.{body}.{sig}"
        response = httpx.get(f"{erp.url}/erp/v1/items", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
    windows = (time.monotonic() - started) / 0.2
    assert handler.fetches - before <= windows + 1
