"""Starting and running flows. See the package docstring for the guarantees."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Connection, Integer, Select, String, Text, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from contracts.kit import breaker, consumer, correlation, outbox, signals, tracing
from contracts.kit.audit import Actor, acting_as
from contracts.kit.db import Database
from contracts.kit.flows import approvals, leases
from contracts.kit.flows.leases import Lease, LeaseLost
from contracts.kit.flows.store import ACTIVE, FlowStatus, flow_keys, flows, timeline
from contracts.kit.paging import as_utc, utcnow
from contracts.kit.problems import RemoteProblem
from contracts.kit.records import new_id
from contracts.kit.settings import FlowSettings
from contracts.kit.unit_of_work import KEY_IN_USE

log = logging.getLogger("plantbridge.flows")
Executor = AsyncSession | AsyncConnection  # the runner's own changes are Core statements
RUNNER = "flow-runner"  # who the runner's own changes are recorded as (approval requests, escalations)
D = TypeVar("D")
SIGNAL = "flows"


@dataclass
class FlowContext(Generic[D]):
    """What a step sees: the flow's input, earlier steps' results, and the service's clients."""

    flow_id: str
    type: str
    data: dict[str, Any]
    results: dict[str, Any]
    deps: D
    step: str = ""
    staged: list[tuple[str, msgspec.Struct]] = field(default_factory=list)

    @property
    def idempotency_key(self) -> str:
        """The key for this step's write: the same on every retry, different for every step."""
        return f"{self.flow_id}:{self.step}"

    def publish(self, subject: str, data: msgspec.Struct) -> None:
        """Stage an event; it commits together with the step's completion."""
        self.staged.append((subject, data))


StepFn = Callable[[FlowContext[Any]], Awaitable[Mapping[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: StepFn
    when: Callable[[FlowContext[Any]], bool] | None = None  # skipped (and recorded so) when False
    approval: approvals.Approval | None = None  # waits for a second person's yes (approvals.py)

    @classmethod
    def awaiting(
        cls, name: str, approval: approvals.Approval, when: Callable[[FlowContext[Any]], bool] | None = None
    ) -> Step:
        """A step that only waits for approval: its result is who approved it."""
        return cls(name, _no_work, when, approval)


async def _no_work(ctx: FlowContext[Any]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class FlowType:
    name: str
    description: str
    steps: tuple[Step, ...]
    # The business keys a flow of this type is found by (`?lot_id=` on the flow list): `start`
    # stores those it is given, and the flow API takes one filter per key of its types.
    keys: tuple[str, ...] = ()


async def start(
    session: AsyncSession,
    flow_type: FlowType,
    data: Mapping[str, Any],
    *,
    keys: Mapping[str, str | None],
    trigger: str | None = None,
) -> str:
    """Create a flow in the caller's transaction. A trigger (an event id) starts at most one flow:
    starting again with the same trigger returns the existing flow's id."""
    undeclared = set(keys) - set(flow_type.keys)
    if undeclared:
        raise ValueError(f"flow type {flow_type.name} declares no key {', '.join(sorted(undeclared))}")
    delivery = consumer.current_delivery()
    flow_id, stalled = await session.run_sync(
        _start, flow_type, data, keys, trigger, delivery, correlation.current()
    )
    if stalled and delivery is not None:
        await resume(session, flow_id, "its dead letter was replayed")
    return flow_id


def _start(
    session: Session,
    flow_type: FlowType,
    data: Mapping[str, Any],
    keys: Mapping[str, str | None],
    trigger: str | None,
    delivery: consumer.Delivery | None,
    ctx: correlation.Context,
) -> tuple[str, bool]:
    """`start`'s statements, in one greenlet: the flow's id, and whether it is an existing one
    that stalled."""
    if trigger is not None:
        existing = session.execute(_BY_TRIGGER, {"trigger": trigger}).one_or_none()
        if existing is not None:
            return str(existing.id), existing.status == FlowStatus.STALLED
    flow_id = new_id("FLOW")
    now = utcnow()
    session.execute(
        _INSERT_FLOW,
        {
            "id": flow_id,
            "type": flow_type.name,
            "status": FlowStatus.RUNNING,
            "data": dict(data),
            "results": {},
            "next_step": 0,
            "attempts": 0,
            "last_error": None,
            "correlation_id": ctx.correlation_id or correlation.new_correlation_id(),
            "traceparent": ctx.traceparent,
            "trigger": trigger,
            "trigger_delivery": delivery.to_json() if delivery is not None and trigger is not None else None,
            "causation_id": ctx.causation_id or None,
            "causation_type": delivery.event_type if delivery is not None and ctx.causation_id else None,
            "next_run_at": now,
            "lease_until": None,
            "lease_owner": None,
            "lease_generation": 0,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        },
    )
    present = {k: v for k, v in keys.items() if v}
    if present:
        session.execute(
            _INSERT_KEYS, [{"flow_id": flow_id, "name": k, "value": v} for k, v in present.items()]
        )
    cause = f"; caused by {delivery.event_type} {ctx.causation_id}" if delivery and ctx.causation_id else ""
    detail = f"{flow_type.name} ({', '.join(f'{k}={v}' for k, v in present.items())}){cause}"
    _append(session, flow_id, [("started", None, detail)])
    signals.notify_on_commit(session, SIGNAL)
    return flow_id, False


async def resume(session: AsyncSession, flow_id: str, why: str, kind: str = "retried") -> None:
    """Run a stalled or waiting flow again now, from the step that failed (retry, replay) or
    waited (an approval given)."""
    await session.execute(
        update(flows)
        .where(flows.c.id == flow_id)
        .values(
            status=FlowStatus.RUNNING,
            attempts=0,
            next_run_at=utcnow(),
            updated_at=utcnow(),
            version=flows.c.version + 1,
            **leases.revoke(),
        )
    )
    await _note(session, flow_id, kind, None, why)
    signals.notify_on_commit(session, SIGNAL)


async def cancel(session: AsyncSession, flow_id: str, why: str, step: str | None = None) -> None:
    """Stop a flow for good (an operator, or a refused approval at `step`); a runner still inside
    one of its steps commits nothing more, and an approval it waited for is withdrawn."""
    await approvals.withdraw(session, flow_id, f"flow cancelled {why}" if step is None else why)
    await session.execute(
        update(flows)
        .where(flows.c.id == flow_id)
        .values(
            status=FlowStatus.CANCELLED, updated_at=utcnow(), version=flows.c.version + 1, **leases.revoke()
        )
    )
    await _note(session, flow_id, "cancelled", step, why)


# The statements of the hot path are built once: building one per call (`.values(...)`,
# `.where(x == literal)`) costs about twice as much as executing it with a parameter dict.
_INSERT_FLOW = insert(flows)
_INSERT_KEYS = insert(flow_keys)
_BY_TRIGGER = select(flows.c.id, flows.c.status).where(flows.c.trigger == bindparam("trigger", type_=String))
_LOAD = select(flows).where(flows.c.id == bindparam("flow"))
# Every change a runner makes is fenced by its lease (contracts/kit/flows/leases.py). The
# parameters name the columns to set: next_step, results, ... (and status when completed).
_ADVANCE = update(flows).where(leases.FENCED).values(version=flows.c.version + 1)
_DUE = (
    select(*leases.CANDIDATE_COLUMNS)
    .where(flows.c.status.in_(ACTIVE), flows.c.next_run_at <= leases.NOW, leases.FREE)
    .order_by(flows.c.next_run_at)
    .limit(bindparam("limit", type_=Integer))
)
_ONE = select(*leases.CANDIDATE_COLUMNS).where(flows.c.id == bindparam("flow", type_=String))
_RETRY_NOW = (
    update(flows)
    .where(
        flows.c.status == FlowStatus.WAITING,
        flows.c.waiting_on.in_(bindparam("upstreams", expanding=True)),
        flows.c.next_run_at > leases.NOW,
    )
    .values(next_run_at=leases.NOW)
)
# A runner lets go of a flow that waits or stalls: the parameters name the columns to set.
_RELEASE = update(flows).where(leases.FENCED).values(lease_until=None, version=flows.c.version + 1)
# One statement per timeline entry: the next seq is computed inside the INSERT.
_NOTE = insert(timeline).from_select(
    ["flow_id", "seq", "at", "kind", "step", "detail"],
    select(
        bindparam("flow_id", type_=String),
        func.coalesce(func.max(timeline.c.seq), 0) + 1,
        bindparam("at", type_=timeline.c.at.type),
        bindparam("kind", type_=String),
        bindparam("step", type_=String),
        bindparam("detail", type_=Text),
    ).where(timeline.c.flow_id == bindparam("flow_id")),
)


# The step a run stopped at and the steps it skipped on the way there (see `run_leased`).
Skipped = tuple[int, Sequence[str]]


async def _skips(session: Executor, flow_id: str, skipped: Skipped) -> dict[str, Any]:
    """Record the skipped steps before the one a run stops at; the flow's columns to set for it."""
    step_no, names = skipped
    await _notes(session, flow_id, _skip_notes(names))
    return {"next_step": step_no} if names else {}


# A timeline entry: kind, step, detail.
Note = tuple[str, str | None, str | None]


def _skip_notes(names: Sequence[str]) -> list[Note]:
    return [("step_skipped", name, "condition not met") for name in names]


def _all_skipped(flow_type: FlowType, ctx: FlowContext[Any], start: int) -> list[str]:
    """The names of the steps from `start` on when every one of them is skipped, else none. A
    condition that raises counts as not skipped: it raises again when its step comes, as before."""
    done, staged = ctx.step, ctx.staged
    ctx.staged = []  # what a condition sees when its step comes: its own name, nothing staged yet
    names: list[str] = []
    try:
        for step in flow_type.steps[start:]:
            ctx.step = step.name
            if step.when is None or step.when(ctx):
                return []
            names.append(step.name)
    except Exception:
        return []
    finally:
        ctx.step, ctx.staged = done, staged
    return names


async def _note(session: Executor, flow_id: str, kind: str, step: str | None, detail: str | None) -> None:
    await _notes(session, flow_id, [(kind, step, detail)])


async def _notes(session: Executor, flow_id: str, notes: Sequence[Note]) -> None:
    await session.run_sync(_append, flow_id, notes)


def _append(executor: Connection | Session, flow_id: str, notes: Sequence[Note]) -> None:
    """Append entries to the flow's timeline in one statement (each row takes the next seq)."""
    if not notes:
        return
    now = utcnow()
    executor.execute(
        _NOTE,
        [
            {
                "flow_id": flow_id,
                "at": now,
                "kind": kind,
                "step": step,
                "detail": (detail or "")[:4000] or None,
            }
            for kind, step, detail in notes
        ],
    )


class StepFailed(Exception):
    """Raised by a step that met a condition asking again will not change (the record is in the
    wrong state, data is missing): the flow stalls at once, visibly, for an operator."""


def is_transient(exc: BaseException) -> bool:
    """A 4xx problem will not change by asking again; anything else (down, 5xx, timeouts) may."""
    if isinstance(exc, StepFailed):
        return False
    if isinstance(exc, RemoteProblem):
        # KEY_IN_USE: the upstream still runs an earlier attempt of the same call (one that timed
        # out here); asked again later, it answers with that attempt's result.
        return exc.status >= 500 or exc.status == 429 or exc.slug == KEY_IN_USE
    return True


class FlowRunner(Generic[D]):
    @classmethod
    def configured(
        cls,
        db: Database,
        redis: Redis,
        settings: FlowSettings,
        flow_types: Sequence[FlowType],
        deps: D,
        *,
        source: str,
    ) -> FlowRunner[D]:
        """A service's runner, with the attempts, backoff and lease its settings name."""
        return cls(
            db,
            flow_types,
            deps,
            source=source,
            max_attempts=settings.flow_max_attempts,
            max_backoff=settings.flow_max_backoff_seconds,
            lease=settings.flow_lease_seconds,
            redis=redis,
        )

    def __init__(
        self,
        db: Database,
        flow_types: Sequence[FlowType],
        deps: D,
        *,
        source: str,
        max_attempts: int = 8,
        base_backoff: float = 0.25,
        max_backoff: float = 30.0,
        lease: float = 15.0,
        poll_interval: float = 1.0,
        concurrency: int = 16,
        redis: Redis | None = None,
    ) -> None:
        self.db = db
        self.redis = redis  # where a stalled flow's starting message is dead-lettered
        self.types = {t.name: t for t in flow_types}
        self.deps = deps
        self.source = source
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.lease = lease
        self.poll_interval = poll_interval
        self.slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.owner = secrets.token_hex(4)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._recovered: set[str] = set()  # upstreams that answer again since the last round

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()

        def on_commit() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        def on_recovery(upstream: str) -> None:
            loop.call_soon_threadsafe(self._recovery, upstream)

        unsubscribe = signals.subscribe(SIGNAL, on_commit)
        unwatch = breaker.watch_recoveries(on_recovery)
        next_escalation = 0.0
        try:
            while True:
                self._wake.clear()
                try:
                    if self._recovered:
                        await self.retry_waiting_on(self._recovered)
                    claimed = await self.claim_due(self.concurrency - len(self._tasks))
                except Exception:
                    log.exception("claiming due flows failed")
                    claimed = []
                if loop.time() >= next_escalation:
                    # Once a poll interval, not on every wake-up (each finished flow wakes the
                    # runner): approvals wait hours, and a look costs a query.
                    next_escalation = loop.time() + self.poll_interval
                    try:
                        # Apart from claiming: flows leased above must run whatever happens here.
                        # Replicas escalating one approval at once: its version lets only one commit.
                        await self.escalate_due()
                    except Exception:
                        log.exception("escalating overdue approvals failed")
                for held in claimed:
                    task = asyncio.create_task(self._run_guarded(held))
                    self._tasks.add(task)
                    task.add_done_callback(self._finished)
                # Not asyncio.wait_for: on 3.11 it swallows a cancel that meets a wake-up (the
                # inner wait done in the same turn), and the runner then never stops.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()
        finally:
            unsubscribe()
            unwatch()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _recovery(self, upstream: str) -> None:
        self._recovered.add(upstream)
        self._wake.set()

    async def retry_waiting_on(self, upstreams: set[str]) -> int:
        """Flows waiting for an upstream that answers again run now, not after their backoff (up to
        `max_backoff` after an outage); every runner of the service sees it, they share the store."""
        names = sorted(upstreams)
        upstreams.difference_update(names)
        now = utcnow()
        async with self.db.transaction() as session:
            result: Any = await session.execute(_RETRY_NOW, {"upstreams": names, "now": now})
        retried = int(result.rowcount or 0)
        if retried:
            log.info("%s answers again: %d waiting flows retried now", ", ".join(names), retried)
        return retried

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # a slot is free

    async def claim_due(self, limit: int) -> list[Lease]:
        """Lease due flows; a lease keeps two runners (or replicas) from running one flow."""
        if limit <= 0:
            return []
        now = utcnow()
        return await self._lease(_DUE, {"now": now, "limit": limit}, now)

    async def claim(self, flow_id: str) -> Lease | None:
        """Lease one active flow now, due or not, unless another runner holds it."""
        now = utcnow()
        leased = await self._lease(_ONE, {"flow": flow_id}, now)
        return leased[0] if leased else None

    async def _lease(self, candidates: Select[Any], params: dict[str, Any], now: datetime) -> list[Lease]:
        """Most wake-ups find nothing to lease: they only read. A lease is written without an fsync
        (`Database.run(relaxed=True)`): one lost in a power cut died with its runner, and the flow is
        leased again after the restart; every step's effect is committed durably."""
        started = asyncio.get_running_loop().time()
        rows = await self.db.run(lambda conn: conn.execute(candidates, params).all())
        if not rows:
            return []

        def lease(conn: Connection) -> list[Lease]:
            held, takeovers = leases.lease(
                conn, rows, owner=self.owner, seconds=self.lease, now=now, started=started
            )
            for taken in takeovers:
                self._note_takeover(conn, taken)
            return held

        return await self.db.run(lease, relaxed=True)

    def _note_takeover(self, conn: Connection, taken: leases.Takeover) -> None:
        flow_type = self.types.get(taken.type)
        steps = flow_type.steps if flow_type else ()
        step = steps[taken.next_step].name if taken.next_step < len(steps) else None
        log.warning(
            "flow %s: runner %s took over from runner %s, whose lease lapsed at %s",
            taken.flow_id,
            self.owner,
            taken.previous_owner,
            taken.lapsed_at,
        )
        detail = (
            f"runner {taken.previous_owner} stopped renewing its lease (lapsed "
            f"{as_utc(taken.lapsed_at):%H:%M:%S} UTC); runner {self.owner} resumes the flow here"
        )
        _append(conn, taken.flow_id, [("lease_taken_over", step, detail)])

    async def _run_guarded(self, held: Lease) -> None:
        try:
            await self.run_leased(held)
        except asyncio.CancelledError:
            # Stopping (a deploy, Ctrl-C): let go of the flow, so that another runner takes it now
            # rather than once the lease lapses; the step it was in runs again there (same key).
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._renew(held, release=True)
            raise
        except LeaseLost as exc:
            log.warning("%s; another runner carries on, nothing of this run was committed", exc)
        except Exception:
            log.exception("flow %s: runner error; the lease expires and it runs again", held.flow_id)

    async def run_flow(self, flow_id: str) -> FlowStatus:
        """Lease one flow and run it now (an operator's "run now", and tests); `LeaseLost` when
        another runner holds it."""
        held = await self.claim(flow_id)
        if held is None:
            raise LeaseLost(flow_id, "another runner holds it, or it is not active")
        return await self.run_leased(held)

    async def run_leased(self, held: Lease) -> FlowStatus:
        """Run the leased flow's remaining steps until it completes, waits or stalls."""
        flow_id, row = held.flow_id, held.snapshot
        held.snapshot = None
        if row is None:  # changed since the runner read it, or leased without a read
            row = await self.db.run(lambda conn: conn.execute(_LOAD, {"flow": flow_id}).one())
        flow_type = self.types.get(row.type)
        if flow_type is None:
            return await self._stall(held, row.attempts, None, f"unknown flow type {row.type}")
        ctx: FlowContext[D] = FlowContext(flow_id, row.type, dict(row.data), dict(row.results), self.deps)
        step_no, attempts = row.next_step, row.attempts
        # The flow id and its trigger travel on every call a step makes (audit entries record them).
        with (
            correlation.bound(
                row.correlation_id,
                row.traceparent,
                causation_id=row.causation_id or row.trigger or "",
                flow_id=flow_id,
            ),
            tracing.flow(row.type, flow_id, row.traceparent),
        ):
            # Skipped steps are recorded with the next step's commit, not in one of their own: a
            # skip is decided from the flow's data and results alone, so a run that stops before
            # that commit decides it the same way again.
            skipped: list[str] = []
            while step_no < len(flow_type.steps):
                step = flow_type.steps[step_no]
                ctx.step, ctx.staged = step.name, []
                if step.when is not None and not step.when(ctx):
                    skipped.append(step.name)
                    step_no += 1
                    continue
                if step.approval is not None:
                    if skipped:  # parking lets go of the flow: what led here is on record first
                        await self._advance(held, ctx, step_no, flow_type, skipped, None)
                        skipped = []
                    given = await self._await_approval(held, ctx, step.approval)
                    if isinstance(given, FlowStatus):
                        return given
                    ctx.results[step.name] = given
                    await self._advance(held, ctx, step_no + 1, flow_type, skipped, given)
                    step_no, attempts, skipped = step_no + 1, 0, []
                    continue
                try:
                    # The heartbeat keeps the lease while the step runs, however long it takes.
                    async with leases.kept(held, self._renew), self.slots:
                        with tracing.child(step.name):  # the step's calls are its children
                            result = await step.run(ctx)
                except LeaseLost:
                    raise
                except Exception as exc:
                    return await self._failed(held, step.name, attempts + 1, exc, (step_no, skipped))
                ctx.results[step.name] = dict(result or {})
                # When every step left is skipped, this commit records them and completes the
                # flow: one transaction fewer than a commit of their own after it.
                rest = _all_skipped(flow_type, ctx, step_no + 1)
                done = step_no + 1 + len(rest)
                await self._advance(held, ctx, done, flow_type, skipped, ctx.results[step.name], rest)
                step_no, attempts, skipped = done, 0, []
            if skipped:  # the last steps were all skipped
                await self._advance(held, ctx, step_no, flow_type, skipped, None)
        return FlowStatus.COMPLETED

    async def _renew(self, held: Lease, *, release: bool = False) -> bool:
        until = None if release else utcnow() + timedelta(seconds=self.lease)
        async with self.db.relaxed() as conn:  # see `_lease`
            return await leases.renew(conn, held, until)

    async def _fenced(self, session: Executor, held: Lease, statement: Any, values: dict[str, Any]) -> None:
        await session.run_sync(_fence, held, statement, values)

    async def _advance(
        self,
        held: Lease,
        ctx: FlowContext[D],
        next_step: int,
        flow_type: FlowType,
        skipped: Sequence[str],
        result: dict[str, Any] | None,
        then_skipped: Sequence[str] = (),
    ) -> None:
        """Commit the flow's progress up to `next_step`: the steps `skipped` on the way and, with a
        `result`, `ctx.step` done and the events it staged, then the steps `then_skipped` after it."""
        last = next_step == len(flow_type.steps)
        started = asyncio.get_running_loop().time()
        now = utcnow()
        values: dict[str, Any] = {
            "next_step": next_step,
            "attempts": 0,
            "last_error": None,
            "updated_at": now,
            "results": ctx.results,
        }
        if last:
            values |= {"status": FlowStatus.COMPLETED, "lease_until": None}
        else:
            values["lease_until"] = now + timedelta(seconds=self.lease)
        notes = _skip_notes(skipped)
        if result is not None:
            notes.append(("step_done", ctx.step, _summary(result)))
        notes += _skip_notes(then_skipped)
        if last:
            notes.append(("completed", None, None))

        def progress(conn: Connection) -> None:
            _fence(conn, held, _ADVANCE, values)
            _append(conn, ctx.flow_id, notes)
            # Built once the fence held: a runner that lost its lease records no staging span
            # for events it never writes. The greenlet runs in this task's context.
            outbox.stage(conn, [outbox.envelope(self.source, subject, data) for subject, data in ctx.staged])

        # One Core transaction in one greenlet commits the same rows for under half the CPU of a
        # session's unit of work (docs/decisions/db-run.md).
        await self.db.run(progress)
        held.renewed_at = started

    async def _await_approval(
        self, held: Lease, ctx: FlowContext[D], approval: approvals.Approval
    ) -> dict[str, Any] | FlowStatus:
        """The approval's outcome: who gave it, or the flow parked (first time) or cancelled. Parking
        and cancelling let go of the lease, fenced like every runner change: a runner whose lease
        was lost records no request (`LeaseLost`, rolled back)."""
        async with self.db.transaction() as session:
            acting_as(session, Actor(RUNNER))
            row = await approvals.of_step(session, ctx.flow_id, ctx.step)
            if row is not None and row.status == approvals.ApprovalStatus.APPROVED:
                return {"approval_id": row.id, "approved_by": row.decided_by, "comment": row.comment}
            if row is not None and row.status == approvals.ApprovalStatus.REJECTED:
                # The API cancels a refused flow itself; this covers a flow resumed since.
                await self._park(session, held, FlowStatus.CANCELLED, f"approval {row.id} was refused")
                await _note(session, ctx.flow_id, "cancelled", ctx.step, f"not approved: {row.comment or ''}")
                return FlowStatus.CANCELLED
            if row is None:
                row = approvals.request(ctx.flow_id, ctx.type, ctx.step, approval, ctx)
                session.add(row)
                await session.flush()
                detail = f"{row.subject} (asked by {row.requested_by}; {row.id})"
                await _note(session, ctx.flow_id, "awaiting_approval", ctx.step, detail)
                if approval.events is not None:
                    fields = approvals.approval_fields(row)
                    await outbox.publish(
                        session, self.source, row.flow_id, approval.events.requested(**fields)
                    )
            await self._park(session, held, FlowStatus.AWAITING_APPROVAL, None)
        return FlowStatus.AWAITING_APPROVAL

    async def _park(self, session: AsyncSession, held: Lease, status: FlowStatus, error: str | None) -> None:
        """Leave the flow in a state no runner picks up (awaiting approval, cancelled), unleased."""
        values = {"status": status, "last_error": error, "updated_at": utcnow()}
        await self._fenced(session, held, _RELEASE, values)

    async def escalate_due(self) -> int:
        """Mark approvals that have waited past their time as escalated, once each; announce them."""
        escalated = 0
        async with self.db.transaction() as session:
            acting_as(session, Actor(RUNNER))
            for row in await approvals.overdue(session, utcnow()):
                row.escalated_at = utcnow()
                await _note(
                    session,
                    row.flow_id,
                    "approval_escalated",
                    row.step,
                    f"to {row.escalate_to or 'nobody named'}",
                )
                step = self._step(row.flow_type, row.step)
                if step is not None and step.approval is not None and step.approval.events is not None:
                    fields = approvals.approval_fields(row)
                    await outbox.publish(
                        session, self.source, row.flow_id, step.approval.events.escalated(**fields)
                    )
                escalated += 1
        return escalated

    def _step(self, flow_type: str, name: str) -> Step | None:
        known = self.types.get(flow_type)
        return next((s for s in known.steps if s.name == name), None) if known else None

    async def _failed(
        self, held: Lease, step: str, attempts: int, exc: Exception, skipped: Skipped = (0, ())
    ) -> FlowStatus:
        error = f"{type(exc).__name__}: {exc}"
        # A call its circuit breaker held back (the upstream failed for others just now) is no
        # proof the upstream still fails: the flow waits for it instead of stalling. Many flows
        # failing fast on one open circuit would otherwise use up their attempts in seconds.
        tried = getattr(exc, "attempted", True)
        if not is_transient(exc) or (attempts >= self.max_attempts and tried):
            return await self._stall(held, attempts, step, error, skipped)
        delay = min(self.max_backoff, self.base_backoff * 2 ** (attempts - 1))
        log.warning(
            "flow %s step %s failed (attempt %d), retrying in %.1fs: %s",
            held.flow_id,
            step,
            attempts,
            delay,
            error,
        )
        async with self.db.transaction() as session:
            await self._fenced(
                session,
                held,
                _RELEASE,
                {
                    "status": FlowStatus.WAITING,
                    "attempts": attempts,
                    "last_error": error[:4000],
                    "next_run_at": utcnow() + timedelta(seconds=delay),
                    "updated_at": utcnow(),
                    "waiting_on": getattr(exc, "service", None) or None,
                }
                | await _skips(session, held.flow_id, skipped),
            )
            detail = f"attempt {attempts}, retry in {delay:.1f}s: {error}"
            await _note(session, held.flow_id, "step_failed", step, detail)
        return FlowStatus.WAITING

    async def _stall(
        self, held: Lease, attempts: int, step: str | None, error: str, skipped: Skipped = (0, ())
    ) -> FlowStatus:
        flow_id = held.flow_id
        log.error("flow %s stalled at %s after %d attempts: %s", flow_id, step, attempts, error)
        async with self.db.transaction() as session:
            await self._fenced(
                session,
                held,
                _RELEASE,
                {
                    "status": FlowStatus.STALLED,
                    "attempts": attempts,
                    "last_error": error[:4000],
                    "updated_at": utcnow(),
                }
                | await _skips(session, flow_id, skipped),
            )
            stored = await session.scalar(select(flows.c.trigger_delivery).where(flows.c.id == flow_id))
            delivery = consumer.Delivery.from_json(stored) if stored and self.redis is not None else None
            if delivery is not None:
                await consumer.forget_seen(session, delivery)
            await _note(session, flow_id, "stalled", step, error)
        if delivery is not None:
            await self._dead_letter(delivery, flow_id, attempts, step, error)
        return FlowStatus.STALLED

    async def _dead_letter(
        self,
        delivery: consumer.Delivery,
        flow_id: str,
        attempts: int,
        step: str | None,
        error: str,
    ) -> None:
        """Best effort: the flow is stalled (and listed so) whether or not Redis takes the letter."""
        assert self.redis is not None
        letter = consumer.dead_letter_entry(
            delivery,
            consumer=f"flows-{self.owner}",
            error=f"flow {flow_id} stalled at {step or 'start'}: {error}",
            attempts=attempts,
        )
        try:
            letter_id = await self.redis.xadd(consumer.dead_letter_stream(delivery.stream), letter)  # type: ignore[arg-type]
        except (RedisError, OSError) as exc:
            log.warning("flow %s: could not dead-letter its starting message: %s", flow_id, exc)
            return
        # Remembered so that a retry or cancel through the flow API withdraws the letter.
        async with self.db.transaction() as session:
            await session.execute(
                update(flows)
                .where(flows.c.id == flow_id)
                .values(trigger_delivery=delivery.to_json() | {"dead_letter_id": consumer.as_text(letter_id)})
            )


async def withdraw_dead_letter(redis: Redis | None, trigger_delivery: Mapping[str, Any] | None) -> None:
    """An operator retried or cancelled the flow through its API: its dead letter is settled.
    Best effort: a letter left behind replays as a no-op (the flow is no longer stalled)."""
    letter_id = (trigger_delivery or {}).get("dead_letter_id")
    if redis is None or trigger_delivery is None or not letter_id:
        return
    try:
        await redis.xdel(consumer.dead_letter_stream(trigger_delivery["stream"]), letter_id)
    except (RedisError, OSError) as exc:
        log.warning("could not withdraw dead letter %s: %s", letter_id, exc)


def _fence(executor: Connection | Session, held: Lease, statement: Any, values: dict[str, Any]) -> None:
    """Apply a runner's change to its flow only while its lease holds; else roll back all of the
    transaction (timeline notes, staged events) with `LeaseLost`."""
    result: Any = executor.execute(statement, {**values, **held.fence})
    if int(result.rowcount or 0) != 1:
        held.lost = True
        raise LeaseLost(held.flow_id, "taken over or revoked")


def _summary(result: Mapping[str, Any] | None) -> str | None:
    if not result:
        return None
    return (
        ", ".join(f"{k}={v}" for k, v in result.items() if isinstance(v, str | int | float | bool))[:500]
        or None
    )
