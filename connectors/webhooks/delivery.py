"""The dispatcher: delivers due messages, records every attempt, retries on a schedule, and
disables endpoints that keep failing.

At least once: a message is leased before it is sent and marked only after the answer, so a
crash in between sends it again once the lease runs out; the receiver drops the repeat by its
`webhook-id` (the event id). On PostgreSQL the lease is in the row (replicas never send a message
at the same time); a SQLite file has one owning process, which keeps its leases in memory, so a
claim writes nothing (statements run on the event loop's thread, and a commit's fsync there holds
every delivery in flight). Attempts are recorded in batches by one writer (one transaction for
many answers), and claims skip messages of endpoints already busy with `endpoint_concurrency`
deliveries, so one slow receiver cannot hold every slot.

Answers (Standard Webhooks): 2xx delivered; 3xx a failure (redirects are not followed); 410 Gone
disables the endpoint; 429, 502, 503 and 504 also hold back the endpoint's other messages until
its `Retry-After` (or the next delay of the schedule); anything else is retried on the schedule
with jitter. An endpoint with no success for `disable_after_hours` is disabled and its pending
messages fail; the operations monitor lists it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Integer, bindparam, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.webhooks.endpoints import EndpointRefused, Endpoints
from connectors.webhooks.fanout import SIGNAL
from connectors.webhooks.secrets import SecretBox
from connectors.webhooks.signing import signed_headers
from connectors.webhooks.store import attempts, events, inbound, messages, subscriptions
from contracts.kit import http1, signals
from contracts.kit.db import Database
from contracts.kit.paging import maybe_utc, utcnow
from contracts.kit.relay import raise_if_cancelled, stop_tasks

log = logging.getLogger("plantbridge.webhooks")
THROTTLING = frozenset({429, 502, 503, 504})
GATHER_SECONDS = 0.01
_EXCERPT = 500
_LEASE_SLACK = 30.0

_CLAIM = (
    select(
        messages.c.id,
        messages.c.subscription_id,
        messages.c.event_id,
        messages.c.attempts,
        messages.c.trigger,
        subscriptions.c.url,
        subscriptions.c.secret,
        subscriptions.c.previous_secret,
        subscriptions.c.previous_secret_expires_at,
        events.c.body,
    )
    .join(subscriptions, subscriptions.c.id == messages.c.subscription_id)
    .join(events, events.c.event_id == messages.c.event_id)
    .where(
        messages.c.status == "pending",
        messages.c.next_attempt_at <= bindparam("now"),
        or_(messages.c.lease_until.is_(None), messages.c.lease_until < bindparam("now")),
        subscriptions.c.status == "active",
        or_(subscriptions.c.throttled_until.is_(None), subscriptions.c.throttled_until <= bindparam("now")),
    )
    .order_by(messages.c.next_attempt_at)
    .limit(bindparam("limit", type_=Integer))
)
_LEASE = (
    update(messages)
    .where(messages.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_until=bindparam("until", type_=messages.c.lease_until.type))
)
# When the next claimable message is due: not leased, its endpoint active, and not held back.
_NEXT_DUE = (
    select(
        func.min(
            case(
                (
                    subscriptions.c.throttled_until > messages.c.next_attempt_at,
                    subscriptions.c.throttled_until,
                ),
                else_=messages.c.next_attempt_at,
            )
        )
    )
    .join(subscriptions, subscriptions.c.id == messages.c.subscription_id)
    .where(
        messages.c.status == "pending",
        subscriptions.c.status == "active",
        or_(messages.c.lease_until.is_(None), messages.c.lease_until < bindparam("now")),
    )
)
_INSERT_ATTEMPT = attempts.insert()
_MARK = (
    update(messages)
    .where(messages.c.id == bindparam("mid"))
    .values(
        status=bindparam("st"),
        attempts=bindparam("n"),
        next_attempt_at=bindparam("next", type_=messages.c.next_attempt_at.type),
        lease_until=None,
        trigger="scheduled",
        last_response_status=bindparam("code", type_=Integer),
        last_error=bindparam("err"),
        delivered_at=bindparam("done", type_=messages.c.delivered_at.type),
        updated_at=bindparam("at", type_=messages.c.updated_at.type),
        version=messages.c.version + 1,
    )
)


@dataclass(frozen=True, slots=True)
class Claimed:
    message_id: str
    subscription_id: str
    event_id: str
    number: int  # this attempt's number, from 1
    trigger: str
    url: str
    secrets: tuple[str, ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    claimed: Claimed
    attempted_at: datetime
    succeeded: bool
    status: int | None
    latency_ms: float
    error: str | None
    excerpt: str | None
    retry_after: float | None = None  # hold the endpoint back this long (throttling answers)
    gone: bool = False  # 410: the receiver wants no more


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "plantbridge_webhook_attempts", "Webhook delivery attempts", ["outcome"], registry=registry
        )
        self.latency = Histogram(
            "plantbridge_webhook_attempt_seconds",
            "Webhook delivery latency (the receiver's answer)",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 30),
        )
        self.disabled = Counter(
            "plantbridge_webhook_endpoints_disabled",
            "Endpoints disabled for failing too long or answering 410",
            registry=registry,
        )


@dataclass
class Policy:
    schedule: tuple[float, ...]
    jitter: float
    disable_after: timedelta
    timeout: float  # one attempt, from the claim to the answer

    def next_delay(self, attempts_made: int) -> float | None:
        """Seconds until the next attempt after `attempts_made`, or None when the schedule is spent."""
        if attempts_made >= len(self.schedule):
            return None
        delay = self.schedule[attempts_made]
        return max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))


class Dispatcher:
    def __init__(
        self,
        db: Database,
        endpoints: Endpoints,
        box: SecretBox,
        policy: Policy,
        *,
        max_in_flight: int,
        endpoint_concurrency: int,
        poll_seconds: float,
        retention: timedelta,
        metrics: DeliveryMetrics | None = None,
        in_flight: set[str] | None = None,
    ) -> None:
        self.db = db
        self.endpoints = endpoints
        self.box = box
        self.policy = policy
        self.max_in_flight = max_in_flight
        self.endpoint_concurrency = endpoint_concurrency
        self.poll_seconds = poll_seconds
        self.retention = retention
        self.metrics = metrics
        self.busy: dict[str, int] = {}  # deliveries in flight per subscription
        # Messages claimed and not yet recorded (shared with the API, which will not retry them).
        self.in_flight_ids = in_flight if in_flight is not None else set()
        self.sending = 0  # deliveries in flight
        self.delivered = 0
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._claim_for_pg = _CLAIM.with_for_update(of=messages, skip_locked=True)

    # --- running -----------------------------------------------------------------------------
    def wake(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Deliver until cancelled; survives database outages with backoff."""
        self._loop = asyncio.get_running_loop()
        unsubscribe = signals.subscribe(SIGNAL, self.wake)
        writer = asyncio.create_task(self._write_outcomes(), name="webhook-attempts")
        next_purge = self._loop.time() + 60.0
        failures = 0
        try:
            while True:
                raise_if_cancelled()
                self._wake.clear()
                try:
                    free = self.max_in_flight - self.sending
                    claimed, held_back = await self.claim(free) if free > 0 else ([], True)
                    for item in claimed:
                        self._start(item)
                    if self._loop.time() >= next_purge:
                        next_purge = self._loop.time() + 600.0
                        await self.purge()
                    failures = 0
                    # Due messages left behind (every slot, or their endpoint's, taken): a finished
                    # delivery wakes us; then a moment more lets one claim refill many slots (each
                    # claim is a transaction, and on SQLite the only connection).
                    wait = self.poll_seconds if held_back else await self._until_next_due()
                    gather = GATHER_SECONDS if held_back else 0.0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    raise_if_cancelled()
                    failures += 1
                    if failures == 1:
                        log.warning("webhook dispatcher paused (%s: %s); retrying", type(exc).__name__, exc)
                    wait = min(5.0, 0.05 * 2**failures)
                    gather = 0.0
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                if gather:
                    await asyncio.sleep(gather)
        finally:
            unsubscribe()
            await stop_tasks(list(self._tasks))
            await stop_tasks([writer])
            await self._drain_outcomes()

    async def _until_next_due(self) -> float:
        async with self.db.engine.connect() as conn:
            due = maybe_utc(await conn.scalar(_NEXT_DUE, {"now": utcnow()}))
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(0.0, (due - utcnow()).total_seconds()))

    def _start(self, item: Claimed) -> None:
        self.sending += 1
        self.busy[item.subscription_id] = self.busy.get(item.subscription_id, 0) + 1
        task = asyncio.create_task(self._deliver_and_queue(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_and_queue(self, item: Claimed) -> None:
        try:
            outcome = await self.deliver(item)
            self._outcomes.put_nowait(outcome)
        finally:
            self.sending -= 1
            left = self.busy.get(item.subscription_id, 1) - 1
            if left:
                self.busy[item.subscription_id] = left
            else:
                self.busy.pop(item.subscription_id, None)
            # A slot is free: claim more now, while the answer waits to be recorded (the message
            # stays leased until then, so it is not claimed twice).
            self.wake()

    # --- claiming ----------------------------------------------------------------------------
    async def claim(self, limit: int) -> tuple[list[Claimed], bool]:
        """Lease up to `limit` due messages, at most `endpoint_concurrency` in flight per endpoint;
        also says whether due messages were left for lack of a free slot."""
        now = utcnow()
        async with self.db.engine.begin() as conn:
            query = _CLAIM if self.db.is_sqlite else self._claim_for_pg
            rows = (
                await conn.execute(query, {"now": now, "limit": limit * 2 + len(self.in_flight_ids)})
            ).all()
            taken: dict[str, int] = {}
            chosen: list[Any] = []
            held_back = False
            for row in rows:
                if row.id in self.in_flight_ids:  # sent, its answer not yet recorded
                    held_back = True
                    continue
                load = self.busy.get(row.subscription_id, 0) + taken.get(row.subscription_id, 0)
                if load < self.endpoint_concurrency and len(chosen) < limit:
                    taken[row.subscription_id] = taken.get(row.subscription_id, 0) + 1
                    chosen.append(row)
                else:
                    held_back = True
            if chosen and not self.db.is_sqlite:
                lease = now + timedelta(seconds=self.policy.timeout + _LEASE_SLACK)
                await conn.execute(_LEASE, {"ids": [r.id for r in chosen], "until": lease})
        self.in_flight_ids.update(r.id for r in chosen)
        return [self._claimed(row, now) for row in chosen], held_back

    def _claimed(self, row: Any, now: datetime) -> Claimed:
        keys = [self.box.open(row.subscription_id, row.secret)]
        expires = maybe_utc(row.previous_secret_expires_at)
        if row.previous_secret and expires is not None and expires > now:
            keys.append(self.box.open(row.subscription_id, row.previous_secret))
        return Claimed(
            message_id=row.id,
            subscription_id=row.subscription_id,
            event_id=row.event_id,
            number=row.attempts + 1,
            trigger=row.trigger,
            url=row.url,
            secrets=tuple(keys),
            body=row.body,
        )

    # --- one attempt -------------------------------------------------------------------------
    async def deliver(self, item: Claimed) -> Outcome:
        attempted_at = utcnow()
        started = time.perf_counter()

        def failed(error: str, status: int | None = None, excerpt: str | None = None, **more: Any) -> Outcome:
            return Outcome(item, attempted_at, False, status, _ms(started), error[:1000], excerpt, **more)

        try:
            async with asyncio.timeout(self.policy.timeout):
                pool, target = await self.endpoints.pool(item.url)
                headers = signed_headers(item.event_id, item.body, item.secrets, time.time())
                status, answer_headers, answer = await pool.request("POST", target, headers, item.body)
        except EndpointRefused as exc:
            return failed(f"endpoint refused: {exc}")
        except TimeoutError:
            return failed(f"no answer within {self.policy.timeout:g} s")
        except http1.Unavailable as exc:
            return failed(str(exc))
        except OSError as exc:
            return failed(f"{type(exc).__name__}: {exc}")
        excerpt = answer[:_EXCERPT].decode("utf-8", "replace") or None
        if 200 <= status < 300:
            return Outcome(item, attempted_at, True, status, _ms(started), None, excerpt)
        if 300 <= status < 400:
            where = _header(answer_headers, b"location") or "?"
            return failed(f"answered {status} redirect to {where[:200]}: not followed", status, excerpt)
        if status == 410:
            return failed(
                "answered 410 Gone: the receiver wants no more deliveries", status, excerpt, gone=True
            )
        if status in THROTTLING:
            wait = _retry_after(_header(answer_headers, b"retry-after"))
            return failed(f"answered {status}", status, excerpt, retry_after=wait)
        return failed(f"answered {status}", status, excerpt)

    # --- recording ---------------------------------------------------------------------------
    async def _write_outcomes(self) -> None:
        while True:
            first = await self._outcomes.get()
            batch = [first]
            while not self._outcomes.empty() and len(batch) < 1000:
                batch.append(self._outcomes.get_nowait())
            try:
                for delay in (0.1, 0.5, 1, 2, 5, 5, 5, 5, 5, 5):
                    try:
                        await self.record(batch)
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        raise_if_cancelled()
                        # Unrecorded, the messages are sent again (once their lease ends).
                        log.warning("cannot record %d webhook attempts (%s); retrying", len(batch), exc)
                        await asyncio.sleep(delay)
            finally:
                self.in_flight_ids.difference_update(o.claimed.message_id for o in batch)
                self.wake()  # what failed may be due again at once

    async def _drain_outcomes(self) -> None:
        batch: list[Outcome] = []
        while not self._outcomes.empty():
            batch.append(self._outcomes.get_nowait())
        if batch:
            with contextlib.suppress(Exception):
                await self.record(batch)
        self.in_flight_ids.clear()

    async def record(self, answered: Sequence[Outcome]) -> None:
        """One transaction: the attempts, each message's new state, each endpoint's health."""
        now = utcnow()
        async with self.db.engine.begin() as conn:
            # A subscription deleted while its message was in flight took the message with it.
            ids = [o.claimed.message_id for o in answered]
            alive = set((await conn.execute(select(messages.c.id).where(messages.c.id.in_(ids)))).scalars())
            outcomes = [o for o in answered if o.claimed.message_id in alive]
            if outcomes:
                await self._record(conn, outcomes, now)
        self.delivered += sum(1 for o in answered if o.succeeded)

    async def _record(self, conn: AsyncConnection, outcomes: Sequence[Outcome], now: datetime) -> None:
        marks: list[dict[str, Any]] = []
        for o in outcomes:
            marks.append(self._mark(o, now))
            if self.metrics is not None:
                self.metrics.attempts.labels("delivered" if o.succeeded else "failed").inc()
                self.metrics.latency.observe(o.latency_ms / 1000)
        await conn.execute(
            _INSERT_ATTEMPT,
            [
                {
                    "message_id": o.claimed.message_id,
                    "number": o.claimed.number,
                    "attempted_at": o.attempted_at,
                    "trigger": o.claimed.trigger,
                    "succeeded": o.succeeded,
                    "response_status": o.status,
                    "latency_ms": round(o.latency_ms, 2),
                    "error": o.error,
                    "response_excerpt": o.excerpt,
                }
                for o in outcomes
            ],
        )
        await conn.execute(_MARK, marks)
        await self._endpoint_health(conn, outcomes, now)
        # Answers that came back after their endpoint was disabled fail like the rest.
        await conn.execute(
            update(messages)
            .where(
                messages.c.id.in_([o.claimed.message_id for o in outcomes]),
                messages.c.status == "pending",
                messages.c.subscription_id.in_(
                    select(subscriptions.c.id).where(subscriptions.c.status == "disabled")
                ),
            )
            .values(status="failed", next_attempt_at=None, last_error="endpoint disabled")
        )

    def _mark(self, o: Outcome, now: datetime) -> dict[str, Any]:
        delay = None if o.succeeded or o.gone else self.policy.next_delay(o.claimed.number)
        if delay is not None and o.retry_after is not None:
            delay = max(delay, o.retry_after)
        status = "delivered" if o.succeeded else ("pending" if delay is not None else "failed")
        return {
            "mid": o.claimed.message_id,
            "st": status,
            "n": o.claimed.number,
            "next": now + timedelta(seconds=delay) if delay is not None else None,
            "code": o.status,
            "err": o.error,
            "done": now if o.succeeded else None,
            "at": now,
        }

    async def _endpoint_health(
        self, conn: AsyncConnection, outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        ok = {o.claimed.subscription_id for o in outcomes if o.succeeded}
        bad = {o.claimed.subscription_id for o in outcomes if not o.succeeded} - ok
        if ok:
            await conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id.in_(ok))
                .values(failing_since=None, last_success_at=now, throttled_until=None)
            )
        if bad:
            await conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id.in_(bad), subscriptions.c.failing_since.is_(None))
                .values(failing_since=now)
            )
        for o in outcomes:
            if o.retry_after is not None or (o.status in THROTTLING and not o.succeeded):
                hold = o.retry_after if o.retry_after is not None else self.policy.next_delay(1) or 0.0
                await conn.execute(
                    update(subscriptions)
                    .where(subscriptions.c.id == o.claimed.subscription_id)
                    .values(throttled_until=now + timedelta(seconds=hold))
                )
        gone = {o.claimed.subscription_id: o.error or "410 Gone" for o in outcomes if o.gone}
        cutoff = now - self.policy.disable_after
        stale = (
            await conn.execute(
                select(subscriptions.c.id, subscriptions.c.failing_since).where(
                    subscriptions.c.id.in_(bad),
                    subscriptions.c.status == "active",
                    subscriptions.c.failing_since <= cutoff,
                )
            )
        ).all()
        reasons = {
            **{row.id: f"no successful delivery since {maybe_utc(row.failing_since)}" for row in stale},
            **gone,
        }
        for subscription_id, reason in reasons.items():
            await disable(conn, subscription_id, reason, now)
            if self.metrics is not None:
                self.metrics.disabled.inc()
            log.warning("webhook endpoint %s disabled: %s", subscription_id, reason)

    # --- housekeeping ------------------------------------------------------------------------
    async def purge(self) -> int:
        """Drop finished messages (with their attempts) and events older than the retention."""
        cutoff = utcnow() - self.retention
        async with self.db.engine.begin() as conn:
            old = select(messages.c.id).where(messages.c.status != "pending", messages.c.updated_at < cutoff)
            await conn.execute(delete(attempts).where(attempts.c.message_id.in_(old)))
            done = await conn.execute(
                delete(messages).where(messages.c.status != "pending", messages.c.updated_at < cutoff)
            )
            still = select(messages.c.event_id).where(messages.c.event_id == events.c.event_id).exists()
            await conn.execute(delete(events).where(events.c.occurred_at < cutoff, ~still))
            # A sender retries for days at most; older webhook ids cannot come again.
            await conn.execute(delete(inbound).where(inbound.c.received_at < cutoff))
        return int(getattr(done, "rowcount", 0) or 0)


async def disable(conn: AsyncConnection, subscription_id: str, reason: str, now: datetime) -> None:
    """Stop sending to an endpoint: it gets nothing more, and what waited for it fails."""
    await conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.status == "active")
        .values(
            status="disabled",
            disabled_reason=reason[:1000],
            disabled_at=now,
            updated_at=now,
            version=subscriptions.c.version + 1,
        )
    )
    await conn.execute(
        update(messages)
        .where(messages.c.subscription_id == subscription_id, messages.c.status == "pending")
        .values(
            status="failed",
            next_attempt_at=None,
            last_error=f"endpoint disabled: {reason}"[:1000],
            updated_at=now,
            version=messages.c.version + 1,
        )
    )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _retry_after(value: str | None) -> float | None:
    """RFC 9110 Retry-After: seconds or an HTTP date; capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", a digit to isdigit() that float() refuses
        return min(float(value), 86400.0)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max(0.0, (moment - datetime.now(UTC)).total_seconds()), 86400.0)
