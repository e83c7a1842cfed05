"""Sends the outbox to MES: each command with its idempotency key, per equipment strictly in order,
different equipment side by side. A command is done when MES applied it, already had it (a
retry after a lost answer, or the state it is already in) or refused it for good (a 4xx: logged
as a problem of the device, never retried). When MES cannot be reached the command waits and is
sent again later with the same key, so MES applies it once however often it is sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from connectors.shopfloor import store
from connectors.shopfloor.metrics import ShopfloorMetrics
from connectors.shopfloor.readings import Problem, Trouble
from contracts.clients.base import UpstreamProblem
from contracts.clients.mes import MesClient
from contracts.kit import correlation
from contracts.kit.db import Database
from contracts.models import mes

log = logging.getLogger("plantbridge.shopfloor")
IDLE_WAIT = 1.0  # seconds; commands waiting for a retry are looked at this often
HOUSEKEEPING = 10.0
# Answers that are about the request, not the caller's right to make it: retried later.
RETRYABLE_4XX = frozenset({401, 403, 408, 429})


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
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def poke(self) -> None:
        self.wake.set()

    async def run(self) -> None:
        housekeeping = asyncio.create_task(self._housekeeping())
        try:
            while True:
                self.wake.clear()
                free = self.concurrency - len(self._busy)
                rows = []
                if free > 0:
                    try:
                        async with self.db.transaction() as session:
                            rows = await store.due_commands(session, datetime.now(UTC), self._busy, free)
                    except Exception:
                        log.exception("reading the outbox failed; trying again")
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

    async def _send(self, row: Any) -> None:
        try:
            outcome, detail = await self._call(row)
            now = datetime.now(UTC)
            async with self.db.transaction() as session:
                if outcome == "retry":
                    due = now + timedelta(seconds=min(0.5 * 2**row.attempts, 60.0))
                    await store.postpone_command(session, row.id, due, detail)
                else:
                    await store.finish_command(session, row.id, now, outcome, detail)
            if outcome == "retry":
                log.warning(
                    "MES did not take %s yet (attempt %d): %s", row.idempotency_key, row.attempts + 1, detail
                )
                return
            self.metrics.commands.labels(row.kind, outcome).inc()
            if outcome == "refused":
                self.report(
                    Trouble(
                        row.device or row.equipment_id, Problem.REFUSED, f"{row.idempotency_key}: {detail}"
                    )
                )
            else:
                self.metrics.latency.labels(row.kind).observe((now - _utc(row.machine_at)).total_seconds())
        except Exception:
            log.exception("sending %s failed", row.idempotency_key)
        finally:
            self._busy.discard(row.equipment_id)
            self.wake.set()

    async def _call(self, row: Any) -> tuple[str, str]:
        key, equipment_id = row.idempotency_key, row.equipment_id
        # The key is the correlation id: MES's audit trail, its events and the flows they start
        # (a breakdown's maintenance request) all name the machine's change that caused them.
        with correlation.bound(key):
            try:
                if row.kind == "state":
                    change = msgspec.convert(row.body, mes.EquipmentStateChange)
                    await self.client.change_state(equipment_id, change, idempotency_key=key)
                else:
                    counted = msgspec.convert(row.body, mes.EquipmentConfirmationCreate)
                    await self.client.confirm_on_equipment(equipment_id, counted, idempotency_key=key)
            except UpstreamProblem as exc:
                said = f"{exc.status} {exc.slug}: {exc.problem.get('detail', '')}"
                already = exc.slug == "illegal-transition" and row.kind == "state"
                if already and exc.problem.get("current_state") == row.body["state"]:
                    return "already", said
                if exc.status < 500 and exc.status not in RETRYABLE_4XX:
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


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
