"""Operator surface of the event backbone: stream health, dead letters, replay, through the API (in
process), the real command line, and schemathesis against the API served by uvicorn."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.consumer import Consumer
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent
from plantbridge.processes import RedisServer, free_port, wait_for_port
from tests.events.ops_app import create_app
from tests.events.support import RECEIPT, drain, effect_count, make_event, put, record
from tests.support.contract import run_schemathesis
from tests.support.fixtures import PlantbridgeCli, Spawn
from tests.support.http import client
from tests.support.inprocess import InProcess
from tests.support.tokens import auth_settings, service_env

STREAM = "events.ops"
BASE = "/ops/v1/operations/events"
OPERATOR = ["events:read", "events:replay"]


@pytest.fixture(scope="module")
def ops(events_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ops')}/ops.db"
    served = InProcess(
        "ops", lambda: create_app(redis_url=events_redis.url, database_url=database, **auth_settings())
    ).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def ops_process(
    events_redis: RedisServer, spawn: Spawn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The operator API served by uvicorn in its own process; its base URL."""
    port = free_port()
    env = {
        **service_env("OPS"),
        "OPS_REDIS_URL": events_redis.url,
        "OPS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ops')}/ops.db",
    }
    process = spawn(
        *(sys.executable, "-m", "uvicorn", "tests.events.ops_app:create_app", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        env=env,
    )
    try:
        wait_for_port(port, timeout=30, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def poisoned(db: Database, redis: Redis, broken: list[bool]) -> tuple[Consumer, CloudEvent]:
    async def fragile(event: CloudEvent, session: AsyncSession) -> None:
        if broken[0]:
            raise LookupError("lot unknown to this plant")
        await record(event, session)

    consumer = Consumer(db=db, redis=redis, group="ops-group", max_attempts=2, retry_delay=0.01)
    consumer.on(RECEIPT, fragile, stream=STREAM)
    await consumer.ensure_groups()
    event = make_event("LOT-OPS", correlation_id="corr-ops")
    await put(redis, STREAM, event)
    while await consumer.poll(block_ms=50):
        pass
    return consumer, event


async def test_operator_api_lists_inspects_and_replays_dead_letters(
    ops: InProcess, db: Database, redis: Redis
) -> None:
    broken = [True]
    consumer, event = await poisoned(db, redis, broken)

    with client(ops, scopes=OPERATOR) as http:
        streams = http.get(f"{BASE}/streams")
        assert streams.status_code == 200, streams.text
        [stats] = [s for s in streams.json()["items"] if s["stream"] == STREAM]
        assert stats["dead_letters"] == 1
        assert stats["groups"][0]["group"] == "ops-group"
        assert stats["groups"][0]["pending"] == 0
        assert stats["groups"][0]["lag"] == 0

        page = http.get(f"{BASE}/dead-letters/{STREAM}").json()
        [letter] = page["items"]
        assert page["next_cursor"] is None
        assert letter["event_id"] == event.id
        assert letter["attempts"] == 2
        assert "LookupError" in letter["error"]

        one = http.get(f"{BASE}/dead-letters/{STREAM}/{letter['dead_letter_id']}")
        assert one.status_code == 200
        assert one.json()["event"]["correlationid"] == "corr-ops"
        missing = http.get(f"{BASE}/dead-letters/{STREAM}/1-1")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")

        broken[0] = False
        replayed = http.post(f"{BASE}/dead-letters/{STREAM}/{letter['dead_letter_id']}/replay")
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["replayed"][0]["event_id"] == event.id
        again = http.post(f"{BASE}/dead-letters/{STREAM}/{letter['dead_letter_id']}/replay")
        assert again.status_code == 404  # it left the dead-letter stream

    await drain(consumer)
    assert await effect_count(db, event.id) == 1


async def test_operator_scopes_are_required(ops: InProcess, db: Database, redis: Redis) -> None:
    with client(ops, scopes=["ops:read", "ops:write"]) as http:
        assert http.get(f"{BASE}/streams").status_code == 403
    with client(ops, scopes=["events:read"]) as http:
        assert http.get(f"{BASE}/streams").status_code == 200
        assert http.post(f"{BASE}/dead-letters/{STREAM}/replay").status_code == 403
    with client(ops) as http:
        assert http.get(f"{BASE}/streams").status_code == 401


async def test_cli_lists_shows_and_replays(
    events_redis: RedisServer, plantbridge_cli: PlantbridgeCli, db: Database, redis: Redis
) -> None:
    broken = [True]
    consumer, event = await poisoned(db, redis, broken)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return plantbridge_cli("events", "--redis", events_redis.url, *args)

    streams = cli("streams")
    assert streams.returncode == 0, streams.stderr
    assert STREAM in streams.stdout
    assert "ops-group" in streams.stdout

    listed = cli("dead-letters", STREAM)
    assert listed.returncode == 0, listed.stderr
    assert "LookupError" in listed.stdout
    letter_id = listed.stdout.splitlines()[1].split()[0]

    shown = cli("show", STREAM, letter_id)
    assert shown.returncode == 0
    assert event.id in shown.stdout
    assert "corr-ops" in shown.stdout
    assert cli("show", STREAM, "1-1").returncode == 1

    broken[0] = False
    replayed = cli("replay-all", STREAM, "--group", "ops-group")
    assert replayed.returncode == 0, replayed.stderr
    assert event.id in replayed.stdout
    await drain(consumer)
    assert await effect_count(db, event.id) == 1
    assert "nothing to replay" in cli("replay-all", STREAM).stdout


def test_cli_says_so_when_redis_is_unreachable(plantbridge_cli: PlantbridgeCli) -> None:
    result = plantbridge_cli("events", "--redis", f"redis://127.0.0.1:{free_port()}/0", "streams")
    assert result.returncode == 2
    assert "cannot reach Redis" in result.stderr


def test_operator_api_contract_holds(ops_process: str) -> None:
    run_schemathesis(ops_process, "/ops/v1", scopes=OPERATOR)


def test_readiness_reports_redis(ops: InProcess) -> None:
    with client(ops) as http:
        ready = http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
