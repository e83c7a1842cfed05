"""The webhooks service as a process on loopback, fed by real Redis streams, delivering to a
receiver that verifies with the Standard Webhooks reference library.

Time is accelerated: the retry schedule of about a day (0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h) runs 1000 times faster, so "down for ten minutes" is 0.6 s."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import msgspec
import pytest
from redis import Redis

from contracts.asyncapi import load_catalogue
from contracts.kit.envelope import CloudEvent, encode
from plantbridge.processes import RedisServer, ServiceProcess
from tests.support.http import client
from tests.support.inprocess import InProcess
from tests.webhooks.receiver import Receiver

ACCELERATED = "0,0.005,0.3,1.8,7.2,18,36,36"  # the default schedule, 1000x faster
_REDIS_DB = itertools.count()
PARTNER = ("webhooks:subscribe", "qms:read", "erp:read", "cmms:read", "mes:read", "quality:read", "xref:read")
OPERATOR = ("webhooks:read", "webhooks:operate")


@dataclass
class Webhooks:
    process: ServiceProcess | InProcess
    redis_url: str

    def api(
        self, scopes: tuple[str, ...] = PARTNER, client_id: str = "partner-a", **claims: Any
    ) -> httpx.Client:
        return client(self.process, scopes=list(scopes), client_id=client_id, claims=claims)

    def publish(self, event_type: str, data: msgspec.Struct, *, event_id: str | None = None) -> str:
        """Put an event on its stream exactly as a service's outbox relay does."""
        known = load_catalogue()[event_type]
        event = CloudEvent(
            id=event_id or str(uuid.uuid4()),
            source=f"/{event_type.split('.', 1)[0]}",
            type=event_type,
            subject="S-1",
            time=datetime.now(UTC),
            data=data,
            correlationid=uuid.uuid4().hex,
        )
        redis = Redis.from_url(self.redis_url)
        try:
            redis.xadd(known.stream, {"id": event.id, "type": event.type, "event": encode(event)})
        finally:
            redis.close()
        return event.id

    def subscribe(self, api: httpx.Client, url: str, event_types: list[str]) -> dict[str, Any]:
        answer = api.post("/webhooks/v1/subscriptions", json={"url": url, "event_types": event_types})
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


def sample(cls: type[msgspec.Struct], **fixed: Any) -> Any:
    """An instance of an event's data Struct with a plain value in every field (and `fixed`)."""
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        if field.name in fixed:
            values[field.name] = fixed[field.name]
        elif field.required:
            values[field.name] = _value(msgspec.inspect.type_info(field.type))
    return cls(**values)


def _value(info: msgspec.inspect.Type) -> Any:
    if isinstance(info, msgspec.inspect.UnionType):
        return _value(next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)))
    simple = {
        msgspec.inspect.StrType: "X-1",
        msgspec.inspect.IntType: 1,
        msgspec.inspect.FloatType: 1.0,
        msgspec.inspect.BoolType: False,
        msgspec.inspect.DecimalType: "1.00",
    }
    for kind, value in simple.items():
        if isinstance(info, kind):
            return value
    if isinstance(info, msgspec.inspect.DateTimeType):
        return datetime.now(UTC)
    if isinstance(info, msgspec.inspect.DateType):
        return date.today()
    if isinstance(info, msgspec.inspect.ListType):
        return []
    if isinstance(info, msgspec.inspect.StructType):
        return sample(info.cls)
    raise TypeError(f"no sample for {info}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


@pytest.fixture(scope="package")
def streams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of our own: no other test's events are on these streams."""
    server = RedisServer(tmp_path_factory.mktemp("webhooks-redis")).start()
    yield server
    server.stop()


def _empty_redis(streams: RedisServer) -> str:
    """A Redis database of our own server, emptied: two services in one consumer group would
    share its events."""
    redis_url = f"{streams.url.rsplit('/', 1)[0]}/{next(_REDIS_DB) % 16}"
    redis = Redis.from_url(redis_url)
    try:
        redis.flushdb()
    finally:
        redis.close()
    return redis_url


@pytest.fixture(scope="module")
def serve_webhooks(in_process, database_url, streams) -> Iterator[Callable[..., Webhooks]]:
    """`serve_webhooks(**settings)`: the webhooks app in this process (the fast lane), on SQLite."""
    started: list[InProcess] = []

    def start(**settings: str) -> Webhooks:
        redis_url = _empty_redis(streams)
        app = in_process(
            "webhooks",
            database_url=database_url("sqlite", f"webhooks_{uuid.uuid4().hex[:8]}"),
            redis_url=redis_url,
            **{"allowed_networks": "127.0.0.0/8", "allow_http": True, **settings},
        )
        started.append(app)
        return Webhooks(app, redis_url)

    yield start
    for app in started:
        app.stop()


@pytest.fixture(scope="module")
def start_webhooks(launch, database_url, streams) -> Iterator[Callable[..., Webhooks]]:
    """`start_webhooks(backend, **settings)`: a webhooks process with its own database and an
    empty Redis database; stopped with the module."""
    started: list[ServiceProcess] = []

    def start(backend: str = "sqlite", **settings: str) -> Webhooks:
        redis_url = _empty_redis(streams)
        options = {
            "allowed_networks": "127.0.0.0/8",
            "allow_http": "true",
            "retry_schedule": ACCELERATED,
            "poll_seconds": "0.2",
            **settings,
        }
        process = launch(
            "webhooks",
            database_url=database_url(backend, f"webhooks_{uuid.uuid4().hex[:8]}"),
            redis_url=redis_url,
            **options,
        )
        started.append(process)
        return Webhooks(process, redis_url)

    yield start
    for process in started:
        process.stop()
