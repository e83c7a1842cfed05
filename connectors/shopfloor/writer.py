"""Sends the outbox to MES: each command with its idempotency key, per equipment strictly in order,
different equipment side by side. A command is done when MES applied it, already had it (a
retry after a lost answer, or the state it is already in) or refused it for good (a 4xx, or a
body MES's contract refuses: logged as a problem of the device, never retried). When MES cannot
be reached the command waits and is sent again later with the same key, so MES applies it once
however often it is sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from connectors.shopfloor import store
from connectors.shopfloor.metrics import ShopfloorMetrics
from connectors.shopfloor.readings import RETRY_LATER_4XX, Problem, Trouble
from contracts.clients.base import UpstreamProblem
from contracts.clients.mes import MesClient
from contracts.kit import correlation
from contracts.kit.db import Database
from contracts.kit.paging import as_utc
from contracts.models import mes

log = logging.getLogger("plantbridge.shopfloor")
IDLE_WAIT = 1.0  # seconds; commands waiting for a retry are looked at this often
HOUSEKEEPING = 10.0
# The body each kind of command is sent as.
_BODIES: dict[str, type[mes.EquipmentStateChange | mes.EquipmentConfirmationCreate]] = {
    "state": mes.EquipmentStateChange,
    "confirm": mes.EquipmentConfirmationCreate,
}


@dataclass(frozen=True, slots=True)
class _Answered:
    row: Any
    outcome: str  # applied | already | refused | retry
    detail: str
    at: datetime


class MesWriter:
    def __init__(
        self,
        db: Database,
        client: MesClient,
        metrics: ShopfloorMetrics,
        report: Callable[[Trouble], None],
        *,
        concurrency: int,
        history: timedelta,
    ) -> None:
        self.db = db
        self.client = client
        self.metrics = metrics
        self.report = report
        self.concurrency = concurrency
        self.history = history
        self.wake = asyncio.Event()
        self._busy: set[str] = set()  # equipment whose command is being sent or awaits recording
        self._answered: list[_Answered] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def poke(self) -> None:
        self.wake.set()

    async def run(self) -> None:
        housekeeping = asyncio.create_task(self._housekeeping())
        try:
            while True:
                self.wake.clear()
                answered, self._answered = self._answered, []
                rows: list[Any] = []
                try:
                    rows = await self._record_and_take(answered)
                except Exception:
                    log.exception("the outbox could not be read or updated; trying again")
                    self._answered = answered + self._answered  # recorded next time round
                for row in rows:
                    self._busy.add(row.equipment_id)
                    task = asyncio.create_task(self._send(row))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), IDLE_WAIT)
        finally:
            housekeeping.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(housekeeping, *self._tasks, return_exceptions=True)

    async def _record_and_take(self, answered: list[_Answered]) -> list[Any]:
        """One transaction: what MES answered is recorded, and the next commands are taken (the
        oldest unsent of each equipment not being sent). An equipment is free again only once its
        answer is recorded, so its command is never taken twice."""
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            for done in answered:
                if done.outcome == "retry":
                    due = now + timedelta(seconds=min(0.5 * 2**done.row.attempts, 60.0))
                    await store.postpone_command(session, done.row.id, due, done.detail)
                else:
                    await store.finish_command(session, done.row.id, done.at, done.outcome, done.detail)
            busy = self._busy - {done.row.equipment_id for done in answered}
            free = self.concurrency - len(busy)
            rows = await store.due_commands(session, now, busy, free) if free > 0 else []
        self._busy = busy
        for done in answered:
            self._account(done)
        return rows

    async def _send(self, row: Any) -> None:
        try:
            outcome, detail = await self._call(row)
        except Exception as exc:  # a bug of ours: the command waits and is tried again
            log.exception("sending %s failed", row.idempotency_key)
            outcome, detail = "retry", f"{type(exc).__name__}: {exc}"
        self._answered.append(_Answered(row, outcome, detail, datetime.now(UTC)))
        self.wake.set()

    def _account(self, done: _Answered) -> None:
        row = done.row
        if done.outcome == "retry":
            log.warning(
                "MES did not take %s yet (attempt %d): %s", row.idempotency_key, row.attempts + 1, done.detail
            )
            return
        self.metrics.commands.labels(row.kind, done.outcome).inc()
        if done.outcome == "refused":
            detail = f"{row.idempotency_key}: {done.detail}"
            self.report(Trouble(row.device or row.equipment_id, Problem.REFUSED, detail))
        else:
            self.metrics.latency.labels(row.kind).observe((done.at - as_utc(row.machine_at)).total_seconds())

    async def _call(self, row: Any) -> tuple[str, str]:
        key, equipment_id = row.idempotency_key, row.equipment_id
        # The key is the correlation id: MES's audit trail, its events and the flows they start
        # (a breakdown's maintenance request) all name the machine's change that caused them.
        with correlation.bound(key):
            try:
                body = msgspec.convert(row.body, _BODIES[row.kind])
            except msgspec.ValidationError as exc:
                # MES could never take it (a command stored before bodies were checked when built):
                # refused for good, as retrying it would hold back every later change of the equipment.
                return "refused", f"not a valid {row.kind} body: {exc}"
            try:
                if isinstance(body, mes.EquipmentStateChange):
                    await self.client.change_state(equipment_id, body, idempotency_key=key)
                else:
                    await self.client.confirm_on_equipment(equipment_id, body, idempotency_key=key)
            except UpstreamProblem as exc:
                said = f"{exc.status} {exc.slug}: {exc.problem.get('detail', '')}"
                already = exc.slug == "illegal-transition" and row.kind == "state"
                if already and exc.problem.get("current_state") == row.body["state"]:
                    return "already", said
                if exc.status < 500 and exc.status not in RETRY_LATER_4XX:
                    return "refused", said
                return "retry", said
            except Exception as exc:  # unreachable, timed out, circuit open: the command waits
                return "retry", f"{type(exc).__name__}: {exc}"
        return "applied", ""

    async def _housekeeping(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                async with self.db.transaction() as session:
                    await store.purge(session, datetime.now(UTC) - self.history)
                    count, _oldest = await store.backlog(session)
                self.metrics.backlog.set(count)
            await asyncio.sleep(HOUSEKEEPING)
