"""Who still calls deprecated API versions, so their owners know whom to call before the sunset.

The gateway learns that a version is deprecated from the upstream itself: a response carrying
RFC 9745 `Deprecation` (or a 410 after the sunset) is counted per API version and client, in a
Prometheus counter and in Redis, shared by every gateway process and kept across restarts.
"""

from __future__ import annotations

import logging
import time

import msgspec
from prometheus_client import CollectorRegistry, Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("plantbridge.gateway")

_VERSIONS = "pb:gw:deprecated"  # set of API versions ("/qms/v1") seen deprecated
_CALLS = "pb:gw:deprecated:calls:"  # hash per version: client -> calls
_LAST = "pb:gw:deprecated:last:"  # hash per version: client -> unix time of the last call


class DeprecatedCalls(msgspec.Struct, kw_only=True):
    api: str  # "/qms/v1"
    client_id: str
    calls: int
    last_call_at: float  # unix seconds


def is_deprecated_answer(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    return status == 410 or any(name.lower() == b"deprecation" for name, _ in headers)


class DeprecationLedger:
    def __init__(self, redis: Redis, registry: CollectorRegistry) -> None:
        self.redis = redis
        self.counter = Counter(
            "plantbridge_gateway_deprecated_calls",
            "Calls answered by a deprecated (or sunset) API version",
            ["api", "client"],
            registry=registry,
        )

    async def record(self, api: str, client_id: str) -> None:
        self.counter.labels(api, client_id).inc()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.sadd(_VERSIONS, api)
                pipe.hincrby(_CALLS + api, client_id, 1)
                pipe.hset(_LAST + api, client_id, str(time.time()))
                await pipe.execute()
        except (RedisError, OSError) as exc:  # the metric still counts; the request is not failed for it
            log.warning("could not record a deprecated call to %s by %s: %s", api, client_id, exc)

    async def report(self) -> list[DeprecatedCalls]:
        """Every client that called a deprecated version, most calls first."""
        found: list[DeprecatedCalls] = []
        for api in sorted(_text(raw) for raw in await self.redis.smembers(_VERSIONS)):
            calls = await self.redis.hgetall(_CALLS + api)
            last = {_text(k): float(v) for k, v in (await self.redis.hgetall(_LAST + api)).items()}
            found += [
                DeprecatedCalls(
                    api=api,
                    client_id=_text(client),
                    calls=int(count),
                    last_call_at=last.get(_text(client), 0.0),
                )
                for client, count in calls.items()
            ]
        return sorted(found, key=lambda c: (-c.calls, c.api, c.client_id))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
