"""Revoked clients: tokens a client received before it was disabled stop working everywhere.

The issuer records "tokens of client C issued before time T are revoked" in a Redis hash and
announces it on a pub/sub channel. Every service's token verifier follows the channel and checks
each token (cached or not) against what it has heard: one dict lookup per request.

While a service cannot reach Redis it keeps refusing what it already knows and learns nothing
new; on reconnecting it reads the whole hash again, so a revocation made meanwhile takes effect
then. (Tokens expire on their own within the issuer's token lifetime in any case.)

A service that keeps something a client set up (a subscription, a session) registers a listener
with `Revocations.on_revoked` to hear each revocation, once per new cutoff, beside its verifier.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("plantbridge.auth")

REVOKED = "pb:auth:revoked"  # hash: "<issuer> <client_id>" -> unix time before which its tokens are revoked
CHANNEL = "pb:auth:revocations"  # message: the same "<issuer> <client_id> <time>"

# Called with (issuer, client_id, before): tokens `issuer` gave `client_id` before that unix time
# are revoked. On the event loop, so it must not block; it may queue work of its own.
Listener = Callable[[str, str, float], None]


class Revocations:
    def __init__(self) -> None:
        self._before: dict[tuple[str, str], float] = {}
        self._listeners: list[Listener] = []
        self.synced = False  # the whole list has been read since the last (re)connection

    def on_revoked(self, listener: Listener) -> Callable[[], None]:
        """Tell `listener` every revocation known now and each new or later cutoff heard from
        now on (the whole list is read again on each reconnection: only what changed is told).
        Returns the function that stops telling it."""
        self._listeners.append(listener)
        for (issuer, client_id), before in list(self._before.items()):
            listener(issuer, client_id, before)
        return lambda: self._listeners.remove(listener)

    def revoked(self, issuer: str, client_id: str, issued_at: int) -> bool:
        cutoff = self._before.get((issuer, client_id))
        return cutoff is not None and issued_at < cutoff

    def learn(self, field: bytes | str, value: bytes | str) -> None:
        issuer, _, client_id = _text(field).rpartition(" ")
        if not (issuer and client_id):
            return
        before = float(_text(value))
        known = self._before.get((issuer, client_id))
        self._before[(issuer, client_id)] = before
        if known is None or before > known:
            for listener in list(self._listeners):
                try:
                    listener(issuer, client_id, before)
                except Exception:  # one listener's bug must not stop the verifier learning
                    log.exception("revocation listener %r failed", listener)

    def _message(self, data: bytes | str) -> None:
        field, _, value = _text(data).rpartition(" ")
        with suppress(ValueError):
            self.learn(field, value)

    async def follow(self, redis_url: str, *, retry_seconds: float = 1.0) -> None:
        """Run until cancelled: subscribe, read the whole list, then apply each announcement."""
        while True:
            redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_keepalive=True)
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)  # first, so nothing announced during the read is missed
                for field, value in (await redis.hgetall(REVOKED)).items():
                    with suppress(ValueError):
                        self.learn(field, value)
                self.synced = True
                async for message in pubsub.listen():
                    self._message(message["data"])
            except (RedisError, OSError) as exc:
                self.synced = False
                log.warning("token revocations: Redis unreachable (%s); retrying", exc)
            finally:
                with suppress(RedisError, OSError):
                    await pubsub.aclose()
                with suppress(RedisError, OSError):
                    await redis.aclose()
            await asyncio.sleep(retry_seconds)


@asynccontextmanager
async def following(revocations: Revocations, redis_url: str) -> AsyncIterator[None]:
    """Follow the revocation list for as long as the block runs (a service's lifespan)."""
    task = asyncio.get_running_loop().create_task(revocations.follow(redis_url))
    try:
        yield
    finally:
        # A cancel can be lost inside redis-py's pubsub read (taken for its read timeout when both
        # land together; then listen() reads on and the lifespan waited for ever): cancel until
        # the task has ended.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        with suppress(asyncio.CancelledError):
            await task


async def revoke(redis: Redis, issuer: str, client_id: str, *, keep_seconds: float) -> float:
    """Revoke every token `issuer` gave `client_id` until now; returns the cutoff. Entries older
    than `keep_seconds` (the longest token lifetime) are dropped: their tokens expired anyway."""
    now = time.time()
    field = f"{issuer} {client_id}"
    stale = [
        name
        for name, value in (await redis.hgetall(REVOKED)).items()
        if float(_text(value)) < now - keep_seconds
    ]
    async with redis.pipeline(transaction=True) as pipe:
        if stale:
            pipe.hdel(REVOKED, *stale)
        pipe.hset(REVOKED, field, repr(now))
        pipe.publish(CHANNEL, f"{field} {now!r}")
        await pipe.execute()
    return now


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["CHANNEL", "REVOKED", "Listener", "Revocations", "following", "revoke"]
