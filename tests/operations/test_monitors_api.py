"""The monitors API: every monitor answers even with upstreams down, with warnings; bad input is a
problem, never a 500; the operator router for the event backbone is mounted.

Served in process: ERP, QMS and the quality process in process with the operations service
calling them through the typed clients' transport; CMMS, MES, the maintenance process and the
webhooks service are left out (their URLs name a closed port), so their monitors answer with
warnings."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from plantbridge.processes import RedisServer, free_port
from tests.operations.conftest import MONITOR_SCOPES
from tests.support.fixtures import DatabaseUrl, Serve
from tests.support.http import client
from tests.support.inprocess import Apps, InProcess, outbound_to
from tests.support.platform import private_redis_url


@pytest.fixture(scope="module")
def operations(
    in_process: Serve, database_url: DatabaseUrl, redis_server: RedisServer
) -> Iterator[InProcess]:
    redis_url = private_redis_url(redis_server.url)  # the quality process's consumer group is its own
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    apps = Apps()
    for name in ("erp", "qms"):
        apps.services[name] = in_process(
            name, database_url=database_url("sqlite", f"ops_{name}"), redis_url=redis_url
        )
    systems = dict(apps.services)
    apps.services["quality"] = in_process(
        "quality",
        database_url=database_url("sqlite", "ops_quality"),
        redis_url=redis_url,
        mes_url=nowhere,
        outbound=outbound_to("quality", systems),
    )
    apps.services["operations"] = in_process(
        "operations",
        database_url=database_url("sqlite", "ops_operations"),
        redis_url=redis_url,
        cmms_url=nowhere,
        mes_url=nowhere,
        maintenance_url=nowhere,
        webhooks_url=nowhere,
        refresh_seconds=1,
        upstream_timeout_seconds=2,
        outbound=outbound_to("operations", {**systems, "quality": apps.services["quality"]}),
    )
    yield apps.services["operations"]
    apps.stop()


@pytest.fixture(scope="module")
def monitors(operations: InProcess) -> Iterator[httpx.Client]:
    with client(operations, scopes=MONITOR_SCOPES, timeout=20) as http:
        yield http


def test_every_monitor_answers_and_the_missing_upstreams_are_warnings(monitors: httpx.Client) -> None:
    answer = monitors.get("/operations/v1/monitors")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    names = {m["name"]: m for m in body["items"]}
    assert set(names) == {
        "holds-not-in-erp",
        "blocks-not-in-qms",
        "disagreements",
        "overdue-inspections",
        "overdue-supplier-cases",
        "stalled-flows",
        "uncosted-work-orders",
        "dead-letters",
        "consumer-lag",
        "webhook-endpoints-disabled",
        "webhook-endpoints-failing",
        "shopfloor-signals",
        "shopfloor-connector",
        "process-restarts",
    }
    # CMMS, the maintenance process and the webhooks service are not running in this platform.
    assert names["uncosted-work-orders"]["complete"] is False
    assert names["webhook-endpoints-disabled"]["complete"] is False
    assert names["stalled-flows"]["complete"] is False  # maintenance's half is missing
    assert names["overdue-inspections"]["complete"] is True
    assert names["disagreements"]["complete"] is True  # the quality process answers
    assert names["dead-letters"]["complete"] is True
    assert names["shopfloor-signals"]["complete"] is False  # nor the shop-floor connector
    assert {"cmms", "maintenance", "shopfloor"} <= {w["source"] for w in body["warnings"]}
    assert body["next_cursor"] is None
    assert names["holds-not-in-erp"]["href"] == "/operations/v1/monitors/holds-not-in-erp"


def test_pages_follow_the_cursor(monitors: httpx.Client) -> None:
    first = monitors.get("/operations/v1/monitors", params={"limit": 3}).json()
    assert len(first["items"]) == 3
    assert first["next_cursor"]
    rest = monitors.get(
        "/operations/v1/monitors", params={"limit": 50, "cursor": first["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 11
    assert rest["next_cursor"] is None


def test_bad_input_is_a_problem(monitors: httpx.Client) -> None:
    for path, status in [
        ("/operations/v1/monitors/no-such-monitor", 404),
        ("/operations/v1/monitors/Bad%20Name", 400),
        ("/operations/v1/monitors?limit=0", 400),
        ("/operations/v1/monitors?cursor=bm90LWEtbGlzdA", 422),
        ("/operations/v1/monitors/dead-letters?cursor=WzEsMl0", 422),
    ]:
        answer = monitors.get(path)
        assert answer.status_code == status, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_monitors_need_operations_read(operations: InProcess) -> None:
    with client(operations, scopes=["erp:read"]) as other:
        assert other.get("/operations/v1/monitors").status_code == 403
    with client(operations) as anonymous:
        assert anonymous.get("/operations/v1/monitors").status_code == 401


def test_the_event_operator_api_is_mounted(operations: InProcess) -> None:
    with client(operations, scopes=["events:read"]) as http:
        streams = http.get("/operations/v1/events/streams")
        assert streams.status_code == 200, streams.text
        assert {"items", "next_cursor"} <= set(streams.json())
        assert http.post("/operations/v1/events/dead-letters/events.qms/1-0/replay").status_code == 403
