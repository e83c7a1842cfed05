"""A platform for the operations service: gateway (tokens), ERP, QMS and the quality process as
processes on loopback, real Redis; CMMS, MES, the maintenance process and the shop-floor connector
are left out, so their monitors answer with warnings while the others work."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from plantbridge.processes import ServiceProcess, free_port
from tests.support.http import client
from tests.support.platform import Platform

MONITOR_SCOPES = ["operations:read"]


# Production releases wait for a second person's approval (tests/operations/test_approval_browser.py).
QUALITY_RULES = """
[[approvals]]
dispositions = ["release"]
origins = ["production"]
escalate_after_minutes = 60
escalate_to = "qa-manager"
"""


@pytest.fixture(scope="package")
def platform(
    launch, database_url, redis_server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    rules = tmp_path_factory.mktemp("operations_rules") / "quality.toml"
    rules.write_text(QUALITY_RULES)
    p = Platform(launch, database_url, "sqlite", "operations", redis_server.url)
    p.start_gateway()
    for name in ("erp", "qms", "mes", "xref"):  # MES and the registry: the quality flows' other upstreams
        p.start(name)
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    p.start(
        "quality",
        **p.own_client("quality"),
        erp_url=p.services["erp"].url,
        qms_url=p.services["qms"].url,
        mes_url=p.services["mes"].url,
        xref_url=p.services["xref"].url,
        rules_file=str(rules),
        flow_max_backoff_seconds="4",  # patient enough to outlast the ERP outage of the holds test
    )
    p.services["operations"] = launch(
        "operations",
        database_url=database_url("sqlite", "operations_operations"),
        redis_url=p.redis_url,
        **p.own_client("operations"),
        **p.trust("operations"),
        erp_url=p.services["erp"].url,
        qms_url=p.services["qms"].url,
        quality_url=p.services["quality"].url,
        cmms_url=nowhere,
        mes_url=nowhere,
        maintenance_url=nowhere,
        shopfloor_url=nowhere,
        refresh_seconds="1",
        upstream_timeout_seconds="2",
    )
    yield p
    p.stop()


@pytest.fixture(scope="package")
def operations(platform: Platform) -> ServiceProcess:
    return platform.services["operations"]


@pytest.fixture(scope="package")
def monitors(operations: ServiceProcess) -> Iterator[httpx.Client]:
    with client(operations, scopes=MONITOR_SCOPES, timeout=20) as http:
        yield http


@pytest.fixture(scope="package")
def erp(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["erp"], scopes=["erp:read", "erp:write"]) as http:
        yield http


@pytest.fixture(scope="package")
def qms(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["qms"], scopes=["qms:read", "qms:write"]) as http:
        yield http


@pytest.fixture(scope="package")
def quality(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["quality"], scopes=["quality:read", "quality:write"]) as http:
        yield http
