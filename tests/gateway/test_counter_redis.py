"""The gateway's rate-limit counters live in a Redis of their own without fsync (the embedded
platform starts one), while the event streams' Redis keeps fsyncing every write."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from redis import Redis

from contracts.topology import by_name
from plantbridge.launcher import service_env
from plantbridge.processes import RedisServer
from tests.gateway.conftest import StartGateway
from tests.support.http import auth_headers


@pytest.fixture(scope="module")
def counters(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    server = RedisServer(tmp_path_factory.mktemp("counters"), durable=False).start()
    yield server
    server.stop()


def config(url: str, name: str) -> str:
    with Redis.from_url(url) as redis:
        return str(redis.config_get(name)[name])


def test_the_counter_redis_does_not_persist_and_the_platform_redis_fsyncs_always(
    counters: RedisServer, redis_server: RedisServer
) -> None:
    assert config(counters.url, "appendonly") == "no"
    assert config(counters.url, "save") == ""
    assert config(redis_server.url, "appendonly") == "yes"
    assert config(redis_server.url, "appendfsync") == "always"


def test_the_launcher_gives_the_gateway_the_counter_redis(tmp_path: Path) -> None:
    platform, own = "redis://127.0.0.1:6380/0", "redis://127.0.0.1:6390/0"
    env = service_env(by_name("gateway"), tmp_path, platform, own)
    assert env["GATEWAY_REDIS_URL"] == platform  # revocations and the deprecation ledger: durable
    assert env["GATEWAY_RATE_LIMIT_REDIS_URL"] == own
    assert "ERP_RATE_LIMIT_REDIS_URL" not in service_env(by_name("erp"), tmp_path, platform, own)


@pytest.mark.e2e
def test_rate_limits_are_counted_in_the_counter_redis(
    launch, start_gateway: StartGateway, database_url, counters: RedisServer, redis_server: RedisServer
) -> None:
    erp = launch("erp", database_url=database_url("sqlite", "gateway_counters_erp"))
    gateway = start_gateway(upstreams=f"erp={erp.url}", rate_limit_redis_url=counters.url)
    answer = httpx.get(f"{gateway.url}/erp/v1/items", headers=auth_headers(["erp:read"], client_id="counted"))
    assert answer.status_code == 200
    with Redis.from_url(counters.url) as redis:
        assert redis.exists("pb:rl:{erp}:c:counted")
    with Redis.from_url(redis_server.url) as redis:
        assert not redis.exists("pb:rl:{erp}:c:counted")
