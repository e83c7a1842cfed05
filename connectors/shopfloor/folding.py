"""Folding a machine's readings into the few changes MES must hear of. Pure: no I/O, no clock.

Per equipment, a `Fold` remembers what MES was told (`applied`), a state waiting out the debounce
(`pending`), the machine's last counters and the parts counted but not yet confirmed.

- **State.** The effective state is what the machine reports, or `down` while an alarm is active
  (when the plant says so). A new state must hold for the debounce time before it is applied:
  by the machine's clock when a later reading proves it held, by ours when nothing follows it. A
  state that flips back sooner was chatter and is dropped. A zero debounce applies at once.
- **Counts.** Counters are cumulative: the difference to the last value is what was made (a
  counter that went backwards was reset, and counts from zero). Parts are confirmed every
  `count_flush` and always before a stop, so they land on the order before the stop holds it.

The fold is stored with the commands it produced in one transaction, so a crash either keeps
both or neither: a reading seen again after a restart yields the same commands or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from connectors.shopfloor.readings import Reading
from contracts.models.mes import EquipmentState


@dataclass(frozen=True, slots=True)
class Rules:
    debounce: timedelta
    count_flush: timedelta
    down_on_alarm: bool = True


@dataclass(frozen=True, slots=True)
class SetState:
    state: EquipmentState
    alarm: str | None
    occurred_at: datetime  # the machine's time of the change


@dataclass(frozen=True, slots=True)
class Confirm:
    good: int
    scrap: int
    good_counter: int | None  # the machine's counters they were counted up to (for the key)
    scrap_counter: int | None
    at: datetime  # our time of the confirmation


Command = SetState | Confirm


class Fold(msgspec.Struct, kw_only=True):
    applied: EquipmentState | None = None
    applied_at: datetime | None = None
    pending: EquipmentState | None = None
    pending_at: datetime | None = None  # machine time the pending state began
    pending_seen: datetime | None = None  # our time we first saw it
    pending_alarm: str | None = None
    reported: EquipmentState | None = None  # the machine's own last state (before alarms)
    alarm: str = ""
    good: int | None = None
    scrap: int | None = None
    unconfirmed_good: int = 0
    unconfirmed_scrap: int = 0
    unconfirmed_since: datetime | None = None
    chatter: int = 0  # states dropped by the debounce

    def durable(self) -> tuple[object, ...]:
        """What must be stored when it changes. Counters need not be: after a restart the next
        cumulative value covers every part since the last confirmation, which is stored."""
        return (
            self.applied,
            self.applied_at,
            self.pending,
            self.pending_at,
            self.pending_alarm,
            self.reported,
            self.alarm,
        )

    @property
    def busy(self) -> bool:
        """Something waits for time to pass (a pending state or parts to confirm)."""
        return self.pending is not None or bool(self.unconfirmed_good or self.unconfirmed_scrap)


def observe(fold: Fold, reading: Reading, now: datetime, rules: Rules) -> list[Command]:
    """Take in one reading (received at `now`, our clock); returns what MES must be told."""
    commands: list[Command] = []
    _count(fold, reading, now)
    if reading.alarm is not None:
        fold.alarm = reading.alarm
    if reading.state is not None:
        fold.reported = reading.state
    target = _effective(fold, rules)
    if target is not None:
        commands += _toward(fold, target, reading.at, now, rules)
    commands += _flush_counts(fold, now, rules, due_only=True)
    return commands


def tick(fold: Fold, now: datetime, rules: Rules) -> list[Command]:
    """Let time pass: a pending state that held long enough (by our clock) is applied, parts
    counted long enough ago are confirmed."""
    commands: list[Command] = []
    if (
        fold.pending is not None
        and fold.pending_seen is not None
        and now - fold.pending_seen >= rules.debounce
    ):
        commands += _apply_pending(fold, now)
    return commands + _flush_counts(fold, now, rules, due_only=True)


def _effective(fold: Fold, rules: Rules) -> EquipmentState | None:
    if fold.reported == EquipmentState.DISCONNECTED:
        return fold.reported
    if rules.down_on_alarm and fold.alarm:
        return EquipmentState.DOWN
    return fold.reported


def _toward(fold: Fold, target: EquipmentState, at: datetime, now: datetime, rules: Rules) -> list[Command]:
    commands: list[Command] = []
    if fold.pending is not None:
        assert fold.pending_at is not None
        held = at - fold.pending_at >= rules.debounce
        if target == fold.pending:
            fold.pending_alarm = _alarm_of(fold, target)  # a later reading may name the alarm
            return _apply_pending(fold, now) if held else []
        if held:
            commands += _apply_pending(fold, now)
        else:
            fold.chatter += 1  # it flipped again before the debounce: never tell MES
            fold.pending = fold.pending_at = fold.pending_seen = fold.pending_alarm = None
    if target == fold.applied:
        return commands
    fold.pending, fold.pending_at, fold.pending_seen = target, at, now
    fold.pending_alarm = _alarm_of(fold, target)
    if rules.debounce <= timedelta(0):
        commands += _apply_pending(fold, now)
    return commands


def _alarm_of(fold: Fold, state: EquipmentState) -> str | None:
    return (fold.alarm or None) if state == EquipmentState.DOWN else None


def _apply_pending(fold: Fold, now: datetime) -> list[Command]:
    assert fold.pending is not None
    assert fold.pending_at is not None
    # Parts made before a stop are confirmed first, while the order still runs (a stop holds it).
    stop = fold.pending == EquipmentState.DOWN
    commands: list[Command] = _flush_counts(fold, now, None, due_only=False) if stop else []
    commands.append(SetState(fold.pending, fold.pending_alarm, fold.pending_at))
    fold.applied, fold.applied_at = fold.pending, fold.pending_at
    fold.pending = fold.pending_at = fold.pending_seen = fold.pending_alarm = None
    return commands


def _count(fold: Fold, reading: Reading, now: datetime) -> None:
    for counter in ("good", "scrap"):
        value: int | None = getattr(reading, counter)
        if value is None:
            continue
        last: int | None = getattr(fold, counter)
        # The first value is a baseline: what was made before the connector knew the machine was
        # reported some other way. A counter that went backwards was reset and counts from zero.
        made = 0 if last is None else (value - last if value >= last else value)
        setattr(fold, counter, value)
        if made > 0:
            setattr(fold, f"unconfirmed_{counter}", getattr(fold, f"unconfirmed_{counter}") + made)
            if fold.unconfirmed_since is None:
                fold.unconfirmed_since = now


def _flush_counts(fold: Fold, now: datetime, rules: Rules | None, *, due_only: bool) -> list[Command]:
    if not (fold.unconfirmed_good or fold.unconfirmed_scrap):
        return []
    if due_only:
        assert rules is not None
        assert fold.unconfirmed_since is not None
        if now - fold.unconfirmed_since < rules.count_flush:
            return []
    confirm = Confirm(fold.unconfirmed_good, fold.unconfirmed_scrap, fold.good, fold.scrap, now)
    fold.unconfirmed_good = fold.unconfirmed_scrap = 0
    fold.unconfirmed_since = None
    return [confirm]
