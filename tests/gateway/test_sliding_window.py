"""Limits are sliding windows: no burst at a window's edge (a fixed window let 99 requests
through in 4.7 s against 50 per 10 s)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.gateway.conftest import StartGateway
from tests.support.http import auth_headers

QUOTA, WINDOW = 5, 2


@pytest.mark.e2e
def test_no_burst_at_the_window_edge(launch, start_gateway: StartGateway, database_url) -> None:
    erp = launch("erp", database_url=database_url("sqlite", "gateway_sliding_erp"))
    gateway = start_gateway(
        upstreams=f"erp={erp.url}", rate_limits=f"erp={QUOTA}/{WINDOW}", access_log="false"
    )
    headers = auth_headers(["erp:read"], client_id=f"edge-{uuid.uuid4().hex[:8]}")
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as http:

        def burst() -> list[int]:
            with ThreadPoolExecutor(max_workers=QUOTA) as pool:
                return [r.status_code for r in pool.map(lambda _: http.get("/erp/v1/items"), range(QUOTA))]

        started = time.monotonic()
        assert http.get("/erp/v1/items").status_code == 200  # a fixed window would start here
        time.sleep(max(0.0, started + WINDOW - 0.4 - time.monotonic()))
        before_edge = burst()
        time.sleep(max(0.0, started + WINDOW + 0.2 - time.monotonic()))
        after_edge = burst()
        elapsed = time.monotonic() - started
    # The two bursts lie well within one window of each other: together at most the quota.
    assert elapsed < 2 * WINDOW, "too slow to test the edge"
    assert before_edge.count(200) == QUOTA - 1
    assert before_edge.count(200) + after_edge.count(200) <= QUOTA, (before_edge, after_edge)
    assert set(before_edge + after_edge) <= {200, 429}
