"""Stream consumers: consumer groups, an inbox for exactly-once effects, retries, dead letters.

For every message the handler's work and the inbox row `(group, event id)` commit in ONE
transaction, and only then is the message acknowledged. So a crash before the commit leaves
the message pending (another consumer reclaims it after `claim_idle_ms`), a crash after the
commit but before XACK redelivers it, and the inbox row turns that redelivery into a no-op.
Relays publish at least once; the inbox makes the effect happen once.

A failing handler is retried in place with backoff (which keeps per-stream order); after
`max_attempts` the message goes to `<stream>.dlq` with the error, attempt count, group and
original entry id, and the group moves on. `contracts.kit.operations` replays it.

Two kinds of handler: `on` registers one taking an event and the transaction's `AsyncSession`
(use cases, flows, the ORM); `on_batch` one taking the fresh events of a batch and the
transaction's Core `Connection`, for effects that are plain statements. A batch whose handlers
all take a connection runs in one `Database.run`: one greenlet, no unit of work, one statement
per table for the whole batch if the handler writes it so (figures in
docs/decisions/event-backbone-cpu.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import groupby
from typing import Any

import msgspec
from litestar import Litestar
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import Connection, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from contracts.kit import correlation, signals, tracing
from contracts.kit.audit import Actor, acting_as
from contracts.kit.db import Database
from contracts.kit.envelope import CATALOGUE, CloudEvent, decode
from contracts.kit.relay import (
    FIELD_EVENT,
    FIELD_ID,
    FIELD_TYPE,
    RETENTION,
    as_text,
    entry_id,
    raise_if_cancelled,
    stop_tasks,
)
from contracts.kit.tables import inbox

log = logging.getLogger("plantbridge.consumer")

Handler = Callable[[CloudEvent, AsyncSession], Awaitable[None]]
# Called with fresh events in stream order (never one this group applied before) inside the
# batch's transaction, with a trace span per event over the call: once per run of consecutive
# events it handles, so maybe several times in one transaction (a mixed batch) and once per event
# when a failed batch is applied one by one. No correlation or `current_delivery()` per event:
# what it writes is plain rows; a use case, a flow or an audit entry takes a `Handler`.
BatchHandler = Callable[[Sequence[CloudEvent], Connection], None]


@dataclass(frozen=True, slots=True)
class OnBatch:
    """A registered `BatchHandler` (`Consumer.on_batch`), told apart from a `Handler`."""

    handle: BatchHandler


DLQ_SUFFIX = ".dlq"
# Set on replayed messages: only that group handles it; the others ack it unread.
FIELD_FOR_GROUP = "for_group"
FIELD_REPLAYED_FROM = "replayed_from"
_MAX_ERROR = 4000
# Inbox rows are stamped by this host's clock, stream entry ids by Redis's: allow for skew.
_CLOCK_SLACK = timedelta(hours=1)
_TRANSIENT = ":transient"


def dead_letter_stream(stream: str) -> str:
    return stream + DLQ_SUFFIX


def attempts_key(stream: str, group: str) -> str:
    """A Redis hash of failed attempts per entry id, so a restart does not reset the count."""
    return f"pb:attempts:{stream}:{group}"


@dataclass(slots=True)
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    retried: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0


@dataclass(slots=True)
class _Item:
    entry_id: str
    fields: dict[bytes, bytes]
    event: CloudEvent
    handler: Handler | OnBatch
    prior_failures: int = 0
    redelivered: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    """The message a handler is applying: what a flow it starts keeps, to dead-letter it later."""

    stream: str
    group: str
    entry_id: str
    fields: dict[bytes, bytes]

    @property
    def event_id(self) -> str:
        return self.fields.get(FIELD_ID.encode(), b"").decode()

    @property
    def event_type(self) -> str:
        return self.fields.get(FIELD_TYPE.encode(), b"").decode()

    def to_json(self) -> dict[str, Any]:
        """For storing next to what the message started (a flow), to dead-letter it later."""
        fields = {k.decode(): v.decode() for k, v in self.fields.items()}
        return {"stream": self.stream, "group": self.group, "entry_id": self.entry_id, "fields": fields}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> Delivery:
        fields = {k.encode(): str(v).encode() for k, v in stored["fields"].items()}
        return cls(stored["stream"], stored["group"], stored["entry_id"], fields)


_delivery: ContextVar[Delivery | None] = ContextVar("plantbridge_delivery", default=None)


def current_delivery() -> Delivery | None:
    """Inside a handler: the message being applied (None outside consumers)."""
    return _delivery.get()


async def forget_seen(session: AsyncSession, delivery: Delivery) -> None:
    """The message's effect did not hold after all (a flow it started stalled): drop its inbox
    row in the caller's transaction, so a replay of the message is applied, not skipped."""
    await session.execute(
        delete(inbox).where(inbox.c.consumer == delivery.group, inbox.c.event_id == delivery.event_id)
    )


def dead_letter_entry(delivery: Delivery, *, consumer: str, error: str, attempts: int) -> dict[str, Any]:
    """The fields of a dead letter; `contracts.kit.operations` lists and replays them."""
    fields = delivery.fields
    return {
        FIELD_ID: fields.get(FIELD_ID.encode(), b""),
        FIELD_TYPE: fields.get(FIELD_TYPE.encode(), b""),
        FIELD_EVENT: fields.get(FIELD_EVENT.encode(), b""),
        "stream": delivery.stream,
        "entry_id": delivery.entry_id,
        "group": delivery.group,
        "consumer": consumer,
        "attempts": attempts,
        "error": error[:_MAX_ERROR],
        "failed_at": datetime.now(UTC).isoformat(),
    }


class TransientError(Exception):
    """Infrastructure trouble (Redis or the database unreachable): retry later, do not count."""


@dataclass
class Consumer:
    db: Database
    redis: Redis
    group: str
    name: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}")
    batch_size: int = 50
    block_ms: int = 1000  # keep below the Redis client's socket_timeout
    claim_idle_ms: int = 30_000
    max_attempts: int = 5
    retry_delay: float = 0.1
    max_retry_delay: float = 5.0
    start_id: str = "0"  # a new group reads all the stream still holds (see the relay's retention)
    forget_idle_ms: int = 3_600_000  # drop consumers with nothing pending after an hour idle
    inbox_retention: timedelta = RETENTION  # no older message can arrive again (relay retention)
    purge_every: float = 600.0
    handlers: dict[str, Handler | OnBatch] = field(default_factory=dict)
    streams: list[str] = field(default_factory=list)
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    def __post_init__(self) -> None:
        dialect = sqlite if self.db.is_sqlite else postgresql
        self._inbox_insert = dialect.insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)

    def on(self, event_type: str, handler: Handler | None = None, *, stream: str | None = None) -> Any:
        """Register `handler` for a CloudEvents type (usable as a decorator)."""

        def register(fn: Handler) -> Handler:
            self._register(event_type, stream, fn)
            return fn

        return register(handler) if handler is not None else register

    def on_batch(
        self, event_type: str, handler: BatchHandler | None = None, *, stream: str | None = None
    ) -> Any:
        """Register a handler of batches on a Core connection for a CloudEvents type (usable as
        a decorator)."""

        def register(fn: BatchHandler) -> BatchHandler:
            self._register(event_type, stream, OnBatch(fn))
            return fn

        return register(handler) if handler is not None else register

    def _register(self, event_type: str, stream: str | None, handler: Handler | OnBatch) -> None:
        if stream is None:
            known = CATALOGUE.get(event_type)
            if known is None:
                raise KeyError(f"{event_type} is not in the event catalogue; pass stream=")
            stream = known.stream
        if stream not in self.streams:
            self.streams.append(stream)
        self.handlers[event_type] = handler

    # --- running -----------------------------------------------------------------------------
    async def ensure_groups(self) -> None:
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, self.group, id=self.start_id, mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def run(self) -> None:
        """Consume until cancelled; survives Redis and database outages with backoff."""
        loop = asyncio.get_running_loop()
        claim_every = max(0.05, min(self.claim_idle_ms / 2000, 5.0))
        next_claim = 0.0
        next_purge = loop.time() + self.purge_every
        own_pending = True  # first drain what this consumer name still holds
        failures = 0
        while True:
            raise_if_cancelled()
            try:
                if failures:
                    await self.ensure_groups()
                if loop.time() >= next_claim:
                    await self.reclaim()
                    next_claim = loop.time() + claim_every
                if own_pending:
                    own_pending = await self.poll(own=True) > 0
                else:
                    await self.poll(block_ms=min(self.block_ms, int(claim_every * 1000)))
                if loop.time() >= next_purge:
                    await self.purge_seen()
                    next_purge = loop.time() + self.purge_every
                if failures:
                    log.info(
                        "consumer %s/%s running again after %d failures", self.group, self.name, failures
                    )
                    failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelled()
                failures += 1
                own_pending = True
                if failures == 1:
                    log.warning(
                        "consumer %s/%s paused (%s: %s); retrying with backoff",
                        self.group,
                        self.name,
                        type(exc).__name__,
                        exc,
                    )
                await asyncio.sleep(min(self.max_retry_delay, self.retry_delay * 2**failures))

    async def poll(self, *, block_ms: int | None = None, own: bool = False) -> int:
        """Read one batch (new messages, or with `own` this consumer's pending ones) and handle it."""
        if not self.streams:
            return 0
        start = "0" if own else ">"
        reply: Any = await self.redis.xreadgroup(
            self.group,
            self.name,
            dict.fromkeys(self.streams, start),
            count=self.batch_size,
            block=None if own else block_ms,
        )
        count = 0
        for stream_name, entries in reply or []:
            stream = as_text(stream_name)
            count += len(entries)
            if entries:
                await self._process(stream, entries, redelivered=own)
        return count

    async def reclaim(self) -> int:
        """Take over messages another consumer has held longer than `claim_idle_ms`."""
        total = 0
        for stream in self.streams:
            start: Any = "0-0"
            while True:
                reply = await self.redis.xautoclaim(
                    stream, self.group, self.name, self.claim_idle_ms, start_id=start, count=self.batch_size
                )
                # Redis 6.2 answers [next, entries]; 7.x adds a third element (deleted ids).
                next_id, entries = reply[0], reply[1]
                live = [(i, f) for i, f in entries if i is not None]
                if len(live) < len(entries):
                    await self._ack_vanished(stream, start, next_id, {as_text(i) for i, _ in live})
                if live:
                    total += len(live)
                    self.stats.reclaimed += len(live)
                    log.info(
                        "consumer %s/%s reclaimed %d messages on %s", self.group, self.name, len(live), stream
                    )
                    await self._process(stream, live, redelivered=True)
                if as_text(next_id) == "0-0":
                    break
                start = next_id
            await self._forget_idle_consumers(stream)
        return total

    async def purge_seen(self) -> int:
        """Delete the group's inbox rows older than `inbox_retention`, but none for a message the
        group still holds as pending: applied, then a crash before XACK, it comes round again."""
        cutoff = datetime.now(UTC) - self.inbox_retention
        for stream in self.streams:
            summary: Any = await self.redis.xpending(stream, self.group)
            if summary["pending"]:
                oldest_ms, _seq = entry_id(summary["min"])
                cutoff = min(cutoff, datetime.fromtimestamp(oldest_ms / 1000, UTC) - _CLOCK_SLACK)
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                delete(inbox).where(inbox.c.consumer == self.group, inbox.c.processed_at < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    # --- handling ----------------------------------------------------------------------------
    async def _process(self, stream: str, entries: Sequence[tuple[Any, Any]], *, redelivered: bool) -> None:
        skip: list[str] = []
        work: list[_Item] = []
        for raw_id, fields in entries:
            entry_id = as_text(raw_id)
            if not fields:  # deleted from the stream while pending
                skip.append(entry_id)
                continue
            for_group = fields.get(FIELD_FOR_GROUP.encode())
            handler = self.handlers.get(as_text(fields.get(FIELD_TYPE.encode(), b"")))
            if handler is None or (for_group is not None and as_text(for_group) != self.group):
                skip.append(entry_id)
                continue
            try:
                event = decode(fields[FIELD_EVENT.encode()])
            except (KeyError, msgspec.DecodeError, msgspec.ValidationError, TypeError) as exc:
                await self._dead_letter(stream, entry_id, fields, f"undecodable: {exc}", 1)
                continue
            work.append(_Item(entry_id, fields, event, handler))
        if skip:
            await self.redis.xack(stream, self.group, *skip)
            self.stats.skipped += len(skip)
        if not work:
            return
        if redelivered:
            await self._load_attempts(stream, work)
        elif len(work) > 1 and await self._apply_batch(stream, work):
            return
        for index, item in enumerate(work):
            try:
                await self._apply_one(stream, item)
            except TransientError:
                await self._note_transient(stream, work[index:])
                raise

    async def _apply_batch(self, stream: str, items: list[_Item]) -> bool:
        """The fast path: a whole batch in one transaction. False means: go one by one."""
        try:
            applied = await self._apply(stream, items)
        except Exception:
            raise_if_cancelled()
            return False
        self._count(applied)  # committed: it counts even if the XACK below fails
        await self.redis.xack(stream, self.group, *[i.entry_id for i in items])
        return True

    async def _apply_one(self, stream: str, item: _Item) -> None:
        failures = item.prior_failures
        while True:
            if failures >= self.max_attempts:
                await self._dead_letter(
                    stream,
                    item.entry_id,
                    item.fields,
                    f"gave up after {failures} attempts (handlers failed or consumers died handling it)",
                    failures,
                )
                return
            try:
                applied = await self._apply(stream, [item])
            except Exception as exc:
                raise_if_cancelled()
                if _is_transient(exc):
                    raise TransientError(str(exc)) from exc
                failures += 1
                self.stats.retried += 1
                log.warning(
                    "handler for %s (%s) failed, attempt %d of %d: %s: %s",
                    item.event.type,
                    item.event.id,
                    failures,
                    self.max_attempts,
                    type(exc).__name__,
                    exc,
                )
                await self.redis.hset(attempts_key(stream, self.group), item.entry_id, failures)
                if failures >= self.max_attempts:
                    await self._dead_letter(stream, item.entry_id, item.fields, _describe(exc), failures)
                    return
                await asyncio.sleep(min(self.max_retry_delay, self.retry_delay * 2 ** (failures - 1)))
                continue
            self._count(applied)
            pipe = self.redis.pipeline(transaction=False)
            pipe.xack(stream, self.group, item.entry_id)
            if failures or item.redelivered:
                pipe.hdel(attempts_key(stream, self.group), item.entry_id, f"{item.entry_id}{_TRANSIENT}")
            await pipe.execute()
            return

    async def _apply(self, stream: str, items: list[_Item]) -> list[bool]:
        """Items and their inbox rows in one transaction: a Core one when every handler takes a
        connection, a session's otherwise. False for each this group saw already."""
        if all(isinstance(i.handler, OnBatch) for i in items):
            return await self.db.run(partial(self._handle_on_connection, items))
        async with self.db.transaction() as session:
            return await self._handle(session, stream, items)

    def _handle_on_connection(self, items: list[_Item], conn: Connection) -> list[bool]:
        applied = _fresh(items, set(conn.execute(self._inbox_insert, self._inbox_rows(items)).scalars()))
        _apply_batches([i for i, new in zip(items, applied, strict=True) if new], conn)
        return applied

    async def _handle(self, session: AsyncSession, stream: str, items: list[_Item]) -> list[bool]:
        """Apply events inside the session's transaction, batch handlers on its connection."""
        acting_as(session, Actor(client_id=f"consumer:{self.group}"))  # who, in audit entries
        # executemany with RETURNING: SQLAlchemy sends it as one multi-row INSERT, compiled once.
        seen = await session.execute(self._inbox_insert, self._inbox_rows(items))
        applied = _fresh(items, set(seen.scalars()))
        fresh = [i for i, new in zip(items, applied, strict=True) if new]
        for on_connection, run in groupby(fresh, key=lambda i: isinstance(i.handler, OnBatch)):
            if on_connection:
                await session.run_sync(_apply_batches_in, list(run))
                continue
            for item in run:
                await self._apply_in_session(session, stream, item)
        return applied

    async def _apply_in_session(self, session: AsyncSession, stream: str, item: _Item) -> None:
        event, handler = item.event, item.handler
        assert not isinstance(handler, OnBatch)  # _handle runs those on its connection
        delivered = _delivery.set(Delivery(stream, self.group, item.entry_id, item.fields))
        try:
            with (
                correlation.bound(event.correlationid, event.traceparent, causation_id=event.id),
                tracing.processing(event.type, event.id, event.traceparent),
            ):
                await handler(event, session)
                if session.new or session.dirty or session.deleted:
                    await session.flush()  # so audit entries take this event's correlation
        finally:
            _delivery.reset(delivered)

    def _inbox_rows(self, items: list[_Item]) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return [
            {"consumer": self.group, "event_id": event_id, "processed_at": now}
            for event_id in sorted({i.event.id for i in items})
        ]

    def _count(self, applied: list[bool]) -> None:
        done = sum(applied)
        self.stats.applied += done
        self.stats.duplicates += len(applied) - done

    # --- bookkeeping -------------------------------------------------------------------------
    async def _load_attempts(self, stream: str, items: list[_Item]) -> None:
        """Failures so far (kept in Redis) plus deliveries no consumer lived to finish."""
        ids = [i.entry_id for i in items]
        counts = await self.redis.hmget(
            attempts_key(stream, self.group), [*ids, *(f"{i}{_TRANSIENT}" for i in ids)]
        )
        pending = await self.redis.xpending_range(
            stream, self.group, min=ids[0], max=ids[-1], count=len(ids) * 2 + 10, consumername=self.name
        )
        delivered = {as_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        for item, failed, paused in zip(items, counts[: len(ids)], counts[len(ids) :], strict=True):
            failures = int(failed or 0)
            # A delivery that neither failed nor met an outage was a consumer dying mid-handler.
            deaths = max(0, delivered.get(item.entry_id, 1) - 1 - failures - int(paused or 0))
            item.prior_failures = failures + deaths
            item.redelivered = True

    async def _note_transient(self, stream: str, items: list[_Item]) -> None:
        """Deliveries that ended in an outage are not the handler's fault: remember not to count them."""
        with contextlib.suppress(RedisError, OSError):  # Redis down: then it counted no delivery either
            pipe = self.redis.pipeline(transaction=False)
            for item in items:
                pipe.hincrby(attempts_key(stream, self.group), f"{item.entry_id}{_TRANSIENT}", 1)
            await pipe.execute()

    async def _dead_letter(
        self, stream: str, entry_id: str, fields: dict[bytes, bytes], error: str, attempts: int
    ) -> None:
        letter = dead_letter_entry(
            Delivery(stream, self.group, entry_id, fields), consumer=self.name, error=error, attempts=attempts
        )
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(dead_letter_stream(stream), letter)  # type: ignore[arg-type]
        pipe.xack(stream, self.group, entry_id)
        pipe.hdel(attempts_key(stream, self.group), entry_id, f"{entry_id}{_TRANSIENT}")
        await pipe.execute()
        self.stats.dead_lettered += 1
        log.error(
            "dead-lettered %s on %s for group %s after %d attempts: %s",
            entry_id,
            stream,
            self.group,
            attempts,
            error[:300],
        )

    async def _ack_vanished(self, stream: str, start: Any, next_id: Any, live: set[str]) -> None:
        """Redis 6.2 keeps deleted entries in the pending list and claims them as nil: ack them."""
        end = "+" if as_text(next_id) == "0-0" else f"({as_text(next_id)}"
        pending = await self.redis.xpending_range(
            stream, self.group, min=start, max=end, count=self.batch_size * 2, consumername=self.name
        )
        for entry in pending:
            entry_id = as_text(entry["message_id"])
            if entry_id not in live and not await self.redis.xrange(stream, entry_id, entry_id):
                await self.redis.xack(stream, self.group, entry_id)

    async def _forget_idle_consumers(self, stream: str) -> None:
        for info in await self.redis.xinfo_consumers(stream, self.group):
            name = as_text(info["name"])
            if name != self.name and int(info["pending"]) == 0 and int(info["idle"]) > self.forget_idle_ms:
                await self.redis.xgroup_delconsumer(stream, self.group, name)


def _fresh(items: list[_Item], inserted: set[str]) -> list[bool]:
    """Whether each item is new: its inbox row went in just now, and it is the first of its
    event id in the batch (the same event twice in one batch: the second is a duplicate)."""
    applied = []
    for item in items:
        new = item.event.id in inserted
        inserted.discard(item.event.id)
        applied.append(new)
    return applied


def _apply_batches_in(session: Session, items: list[_Item]) -> None:
    conn = session.connection()
    _apply_batches(items, conn)
    # The session's commit is the one that fires them. A failed batch's marks are dropped when
    # its connection goes back to the pool (`signals.forget`); reading `conn.info` after a
    # failure could raise over the error that invalidated the connection.
    for name in signals.taken(conn.info):
        signals.notify_on_commit(session, name)


def _apply_batches(items: list[_Item], conn: Connection) -> None:
    """Consecutive items of one batch handler go to it together, in stream order."""
    for handler, run in groupby(items, key=lambda i: i.handler):
        assert isinstance(handler, OnBatch)  # callers pass only those
        events = [i.event for i in run]
        with tracing.spans(tracing.CONSUMER, _process_spans(events) if tracing.enabled() else ()):
            handler.handle(events, conn)


def _process_spans(events: list[CloudEvent]) -> list[tuple[str, str, tracing.Attributes]]:
    """A CONSUMER span per event over the batch handler's call, child of the event's trace."""
    return [
        (
            f"process {e.type}",
            e.traceparent,
            {**tracing.message_attributes("process", "", e.id), "cloudevents.event_type": e.type},
        )
        for e in events
    ]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@asynccontextmanager
async def running(*consumers: Consumer) -> AsyncIterator[None]:
    """Run consumers for the duration of the block (groups are created before it starts)."""
    for consumer in consumers:
        with contextlib.suppress(RedisError, OSError):  # Redis down: run() creates them later
            await consumer.ensure_groups()
    tasks = [asyncio.create_task(c.run(), name=f"consumer-{c.group}") for c in consumers]
    try:
        yield
    finally:
        await stop_tasks(tasks)


def consumer_lifespan(
    build: Callable[[Litestar], Sequence[Consumer]],
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """A Litestar lifespan running the consumers `build(app)` returns (use `runtime_of(app)`)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(*build(app)):
            yield

    return lifespan


__all__ = [
    "DLQ_SUFFIX",
    "BatchHandler",
    "Consumer",
    "ConsumerStats",
    "Delivery",
    "Handler",
    "OnBatch",
    "as_text",
    "attempts_key",
    "consumer_lifespan",
    "current_delivery",
    "dead_letter_entry",
    "dead_letter_stream",
    "forget_seen",
    "running",
]
