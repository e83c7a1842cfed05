"""Rate limits shared by two gateway processes through one Redis, with IETF headers."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.gateway.conftest import StartGateway
from tests.support.http import auth_headers
from tests.support.tokens import test_issuer

QUOTA = 60


@pytest.fixture(scope="module")
def limited(launch, start_gateway: StartGateway, database_url, tmp_path_factory):
    erp = launch("erp", database_url=database_url("sqlite", "gateway_limits_erp"))
    shared_db = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('limits')}/gateway.db"
    first = start_gateway(
        shared_db, upstreams=f"erp={erp.url}", rate_limits=f"erp={QUOTA}/60", access_log="false"
    )
    # The second process signs as the same issuer: two replicas behind one name.
    second = start_gateway(
        shared_db,
        upstreams=f"erp={erp.url}",
        rate_limits=f"erp={QUOTA}/60",
        access_log="false",
        issuer=first.url,
        auth_issuer=first.url,
    )
    return first, second


def test_two_gateways_and_200_callers_never_exceed_the_quota(limited) -> None:
    first, second = limited
    headers = auth_headers(["erp:read"], client_id=f"burst-{uuid.uuid4().hex[:8]}")
    clients = [httpx.Client(base_url=g.url, headers=headers, timeout=30) for g in (first, second)]

    def call(i: int) -> httpx.Response:
        return clients[i % 2].get("/erp/v1/items")

    try:
        with ThreadPoolExecutor(max_workers=200) as pool:
            responses = list(pool.map(call, range(4 * QUOTA)))
    finally:
        for c in clients:
            c.close()
    statuses = [r.status_code for r in responses]
    accepted = statuses.count(200)
    assert set(statuses) <= {200, 429}, set(statuses)
    assert accepted <= QUOTA * 1.01
    assert accepted >= QUOTA * 0.99  # the quota is shared, not lost: both processes count in one place
    refused = [r for r in responses if r.status_code == 429]
    for r in refused:
        assert int(r.headers["Retry-After"]) > 0
        assert r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["type"] == "urn:plantbridge:problem:quota-exceeded"
        assert r.json()["violated-policies"] == ["erp"]
        assert re.fullmatch(r'"erp";r=0;t=\d+', r.headers["RateLimit"])
    assert all(r.headers["RateLimit-Policy"] == f'"erp";q={QUOTA};w=60' for r in responses)


def test_headers_count_down_on_every_response(limited) -> None:
    first, second = limited
    headers = auth_headers(["erp:read"], client_id=f"steady-{uuid.uuid4().hex[:8]}")
    remaining = []
    with httpx.Client(headers=headers, timeout=10) as http:
        for i in range(QUOTA + 2):
            gateway = (first, second)[i % 2]
            response = http.get(f"{gateway.url}/erp/v1/items")
            match = re.fullmatch(r'"erp";r=(\d+);t=(\d+)', response.headers["RateLimit"])
            assert match, response.headers
            remaining.append(int(match.group(1)))
            assert 0 < int(match.group(2)) <= 60
            if i < QUOTA:
                assert response.status_code == 200
            else:
                assert response.status_code == 429
                assert int(response.headers["Retry-After"]) >= 1
    assert remaining[:QUOTA] == list(range(QUOTA - 1, -1, -1))
    assert remaining[QUOTA:] == [0, 0]


def test_limits_are_per_client(limited) -> None:
    first, _ = limited
    for name in ("a", "b"):
        token = test_issuer().mint(["erp:read"], client_id=f"solo-{name}-{uuid.uuid4().hex[:6]}")
        response = httpx.get(f"{first.url}/erp/v1/items", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.headers["RateLimit"] == f'"erp";r={QUOTA - 1};t=60'


@pytest.mark.parametrize(("fail_open", "status"), [("true", 200), ("false", 503)])
def test_redis_down_fails_open_or_closed_as_configured(
    launch, start_gateway, database_url, fail_open, status
):
    from plantbridge.processes import free_port

    erp = launch("erp", database_url=database_url("sqlite", f"gateway_nored_{fail_open}"))
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    gateway = start_gateway(upstreams=f"erp={erp.url}", redis_url=dead_redis, rate_limit_fail_open=fail_open)
    response = httpx.get(f"{gateway.url}/erp/v1/items", headers=auth_headers(["erp:read"]), timeout=10)
    assert response.status_code == status, response.text
    if status == 503:
        assert response.json()["type"] == "urn:plantbridge:problem:temporary-reduced-capacity"
        assert response.headers["Retry-After"] == "1"
    log = gateway.log_path.read_text() if gateway.log_path else ""
    assert ("failing OPEN" if fail_open == "true" else "failing CLOSED") in log
