"""The one writer of the connector's database: readings in, folded changes out to the outbox.

Protocol adapters deliver readings and problems (with an acknowledgement callback where the
transport redelivers until acknowledged). Deliveries are committed in batches: device records,
folds and the commands they produced in one transaction; only then are the deliveries
acknowledged, so a crash before the commit makes the broker deliver them again and a crash after it
finds them recorded (a redelivered message number is then recognised and not applied twice).

Folds and device records are kept in memory between batches (this task is their only writer) and
reloaded from the database if a transaction fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import msgspec
from sqlalchemy import select

from connectors.shopfloor import store
from connectors.shopfloor.folding import Command, Confirm, Fold, Rules, SetState, observe, tick
from connectors.shopfloor.json_topics import sequence_verdict
from connectors.shopfloor.mapping import Answer, DeviceMap, RegistryUnavailable
from connectors.shopfloor.metrics import ShopfloorMetrics, protocol_of
from connectors.shopfloor.readings import REASON_PREFIX, Problem, Reading, Sequenced, Trouble, millis
from contracts.kit.db import Database
from contracts.kit.paging import as_utc
from contracts.models import mes

log = logging.getLogger("plantbridge.shopfloor")
TICK = timedelta(seconds=0.05)  # between looks at pending states and counts
PROBLEM_EVERY = timedelta(seconds=10)  # one logged row per device and problem at most this often
STATS_EVERY = timedelta(seconds=5)  # devices' reading counts and last-seen times are stored this often
RETRY_MAX = 30.0


@dataclass
class Delivery:
    readings: list[Reading] = field(default_factory=list)
    troubles: list[Trouble] = field(default_factory=list)
    sequenced: Sequenced | None = None  # the message number the readings came with
    ack: Callable[[], object] | None = None  # called once the delivery is committed


@dataclass
class _Device:
    device: str
    first_seen: datetime
    last_seen: datetime
    equipment_id: str | None = None
    last_seq: int | None = None
    readings: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    last_problem: str | None = None
    last_problem_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "equipment_id": self.equipment_id,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "last_seq": self.last_seq,
            "readings": self.readings,
            "problems": dict(self.problems),
            "last_problem": self.last_problem,
            "last_problem_at": self.last_problem_at,
        }


@dataclass
class _Batch:
    """What one transaction writes."""

    devices: set[str] = field(default_factory=set)
    folds: set[str] = field(default_factory=set)
    commands: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    readings: dict[str, int] = field(default_factory=dict)  # protocol → count, for the metrics


class Ingest:
    def __init__(
        self,
        db: Database,
        devices: DeviceMap,
        rules: Rules,
        metrics: ShopfloorMetrics,
        *,
        batch_max: int,
        batch_wait: float,
        on_commands: Callable[[], None],
    ) -> None:
        self.db = db
        self.map = devices
        self.rules = rules
        self.metrics = metrics
        self.batch_max = batch_max
        self.batch_wait = batch_wait
        self.on_commands = on_commands
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._devices: dict[str, _Device] = {}
        self._folds: dict[str, Fold] = {}
        self._reporter: dict[str, str] = {}  # equipment → the device that last reported for it
        self._logged: dict[tuple[str, Problem], tuple[datetime, int]] = {}
        self._stats: set[str] = set()  # devices whose counts changed since they were last stored
        self._stats_saved = self._ticked = datetime.now(UTC)
        self._due: datetime | None = None  # when the earliest pending state will have held long enough

    def deliver(self, delivery: Delivery) -> None:
        self.queue.put_nowait(delivery)

    async def load(self) -> None:
        async with self.db.transaction() as session:
            self._devices = {
                r.device: _Device(
                    r.device,
                    as_utc(r.first_seen),
                    as_utc(r.last_seen),
                    r.equipment_id,
                    r.last_seq,
                    r.readings,
                    dict(r.problems),
                    r.last_problem,
                    as_utc(r.last_problem_at) if r.last_problem_at else None,
                )
                for r in await session.execute(select(store.devices))
            }
            self._folds = {
                r.equipment_id: msgspec.json.decode(r.fold, type=Fold)
                for r in await session.execute(select(store.equipment))
            }

    async def run(self) -> None:
        stale = True  # memory must be (re)loaded from the database before the next commit
        while True:
            batch = await self._gather()
            delay = 0.5
            while True:
                try:
                    if stale:
                        await self.load()
                        stale = False
                    await self._commit(batch)
                    break
                except RegistryUnavailable as exc:
                    log.warning("cross-reference registry unavailable, readings wait: %s", exc)
                except Exception:
                    # Nothing of the batch is acknowledged: the broker keeps it until a commit works.
                    log.exception("committing %d deliveries failed; retrying", len(batch))
                    stale = True  # memory may be ahead of the database now
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    async def _gather(self) -> list[Delivery]:
        wait = TICK.total_seconds()
        if self._due is not None:  # wake when the next pending state has held long enough
            wait = min(wait, max(0.0, (self._due - datetime.now(UTC)).total_seconds()))
        try:
            first = await asyncio.wait_for(self.queue.get(), wait)
        except TimeoutError:
            return []  # a tick: time passes for pending states and counts
        batch = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_max:
            try:
                batch.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                await asyncio.sleep(min(left, 0.002))
        return batch

    async def _commit(self, deliveries: list[Delivery]) -> None:
        now = datetime.now(UTC)
        answers = await self._resolve(deliveries)
        batch = _Batch()
        for delivery in deliveries:
            self._take(delivery, answers, now, batch)
        if now - self._ticked >= TICK or (self._due is not None and now >= self._due):
            self._ticked = now  # time passes for pending states and counts
            for equipment_id, fold in self._folds.items():
                if fold.busy:
                    self._fold(equipment_id, fold, partial(tick, now=now, rules=self.rules), now, batch)
        pending = [f.pending_seen for f in self._folds.values() if f.pending_seen is not None]
        self._due = min(pending) + self.rules.debounce if pending else None
        if now - self._stats_saved >= STATS_EVERY:
            batch.devices |= self._stats
            self._stats, self._stats_saved = set(), now
        if batch.devices or batch.folds or batch.problems:
            async with self.db.transaction() as session:
                await store.upsert_devices(session, [self._devices[d].row() for d in sorted(batch.devices)])
                await store.save_folds(
                    session,
                    [
                        {
                            "equipment_id": e,
                            "fold": msgspec.json.encode(self._folds[e]).decode(),
                            "updated_at": now,
                        }
                        for e in sorted(batch.folds)
                    ],
                )
                await store.add_commands(session, batch.commands)
                await store.add_problems(session, batch.problems)
        for delivery in deliveries:
            if delivery.ack is not None:
                delivery.ack()
        for protocol, count in batch.readings.items():
            self.metrics.readings.labels(protocol).inc(count)
        if batch.commands:
            self.on_commands()

    async def _resolve(self, deliveries: list[Delivery]) -> dict[tuple[str, datetime], Answer]:
        answers: dict[tuple[str, datetime], Answer] = {}
        for delivery in deliveries:
            for reading in delivery.readings:
                key = (reading.device, reading.at)
                if key not in answers:
                    answers[key] = await self.map.equipment(reading.device, reading.at)
        return answers

    def _take(
        self, delivery: Delivery, answers: dict[tuple[str, datetime], Answer], now: datetime, batch: _Batch
    ) -> None:
        for trouble in delivery.troubles:
            self._trouble(trouble, now, batch)
        if delivery.sequenced is not None:
            seq = delivery.sequenced
            device = self._device(seq.device, now, batch)
            verdict = sequence_verdict(device.last_seq, seq.seq)
            if verdict is not None:
                detail = f"message {seq.seq} after {device.last_seq}"
                self._trouble(Trouble(seq.device, verdict, detail), now, batch)
            if verdict == Problem.OUT_OF_ORDER:
                return  # seen before: a redelivery or a replay is never applied twice
            device.last_seq = seq.seq
            batch.devices.add(seq.device)  # stored with what it brought, before it is acknowledged
        for reading in delivery.readings:
            device = self._device(reading.device, now, batch)
            device.readings += 1
            protocol = protocol_of(reading.device)
            batch.readings[protocol] = batch.readings.get(protocol, 0) + 1
            answer = answers[(reading.device, reading.at)]
            if answer.equipment_id is None:
                self._trouble(Trouble(reading.device, Problem.UNKNOWN_DEVICE, answer.why), now, batch)
                continue  # never applied to a guessed equipment
            if device.equipment_id != answer.equipment_id:
                device.equipment_id = answer.equipment_id
                batch.devices.add(reading.device)
            self._reporter[answer.equipment_id] = reading.device
            fold = self._folds.setdefault(answer.equipment_id, Fold())
            take = partial(observe, reading=reading, now=now, rules=self.rules)
            self._fold(answer.equipment_id, fold, take, now, batch)

    def _fold(
        self,
        equipment_id: str,
        fold: Fold,
        step: Callable[[Fold], list[Command]],
        now: datetime,
        batch: _Batch,
    ) -> None:
        """Run one fold step; the fold is stored when what it must remember changed."""
        before = fold.durable()
        commands = step(fold)
        if commands or fold.durable() != before:
            batch.folds.add(equipment_id)
        self._emit(equipment_id, commands, now, batch)

    def _device(self, name: str, now: datetime, batch: _Batch) -> _Device:
        device = self._devices.get(name)
        if device is None:
            device = self._devices[name] = _Device(name, now, now)
            batch.devices.add(name)
        device.last_seen = now
        self._stats.add(name)  # readings and last seen: stored every STATS_EVERY
        return device

    def _trouble(self, trouble: Trouble, now: datetime, batch: _Batch) -> None:
        device = self._device(trouble.device, now, batch)
        batch.devices.add(trouble.device)
        device.problems[trouble.problem] = device.problems.get(trouble.problem, 0) + 1
        device.last_problem, device.last_problem_at = f"{trouble.problem}: {trouble.detail}"[:2000], now
        self.metrics.problems.labels(trouble.problem).inc()
        key = (trouble.device, trouble.problem)
        last, repeats = self._logged.get(key, (None, 0))
        if last is not None and now - last < PROBLEM_EVERY:
            self._logged[key] = (last, repeats + 1)
            return
        self._logged[key] = (now, 0)
        log.warning(
            "%s from %s: %s",
            trouble.problem,
            trouble.device,
            trouble.detail,
            extra={"device": trouble.device, "problem": str(trouble.problem), "repeats": repeats + 1},
        )
        batch.problems.append(
            {
                "at": now,
                "device": trouble.device,
                "problem": trouble.problem,
                "detail": trouble.detail,
                "repeats": repeats + 1,
            }
        )

    def _emit(self, equipment_id: str, commands: list[Command], now: datetime, batch: _Batch) -> None:
        device = self._reporter.get(equipment_id, "")
        for command in commands:
            try:
                batch.commands.append(_command_row(equipment_id, device, command, now))
            except msgspec.ValidationError as exc:
                # A body MES would refuse (e.g. a counter jump of more parts than it takes at once) is
                # what the machine sent wrong: stored, it would only ever be refused.
                detail = f"{type(command).__name__} for {equipment_id} not sent to MES: {exc}"
                self._trouble(Trouble(device or equipment_id, Problem.MALFORMED, detail), now, batch)


def _command_row(equipment_id: str, device: str, command: Command, now: datetime) -> dict[str, Any]:
    """An outbox row; the key names the equipment, the change and the machine's time of it, so the
    same change can never be posted under two keys."""
    if isinstance(command, SetState):
        body: Any = mes.EquipmentStateChange(
            state=command.state,
            reason=_reason(command),
            alarm=command.alarm,
            occurred_at=command.occurred_at,
        )
        key = f"shopfloor:{equipment_id}:state:{command.state}:{millis(command.occurred_at)}"
        kind, machine_at = "state", command.occurred_at
    else:
        assert isinstance(command, Confirm)
        body = mes.EquipmentConfirmationCreate(good_quantity=command.good, scrap_quantity=command.scrap)
        counters = f"{command.good_counter}:{command.scrap_counter}"
        key = f"shopfloor:{equipment_id}:count:{counters}:{millis(command.at)}"
        kind, machine_at = "confirm", command.at
    stored = msgspec.to_builtins(body)
    # Checked against MES's limits now, as the writer and MES will check it (a Struct is not checked
    # when made): a body they would refuse raises ValidationError, for the caller to report.
    msgspec.convert(stored, type(body))
    return {
        "equipment_id": equipment_id,
        "device": device,
        "kind": kind,
        "idempotency_key": key,
        "body": stored,
        "machine_at": machine_at,
        "created_at": now,
        "due_at": now,
        "attempts": 0,
    }


def _reason(command: SetState) -> str | None:
    if command.state == mes.EquipmentState.DOWN:
        # readings.alarm_text bounds the alarm so this fits MES's reason.
        return f"{REASON_PREFIX}{command.alarm}" if command.alarm else "stopped (reported by the machine)"
    if command.state == mes.EquipmentState.DISCONNECTED:
        return "connection to the machine lost"
    return None
