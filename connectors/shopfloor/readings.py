"""What the protocol adapters hand over: readings of a machine's signals, and problems with input.

A reading carries levels, never deltas: the machine's state, its alarm and its cumulative good and
scrap counters, each only when the message reported it. A message that goes missing can then hide
at most a state shorter than the gap; counted parts are never lost, since the next counter value
covers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contracts.models.mes import EquipmentState


class Problem(StrEnum):
    """What can be wrong with what a machine sends; each is counted per device."""

    MALFORMED = "malformed-payload"  # not decodable, or a value of the wrong kind
    UNKNOWN_DEVICE = "unknown-device"  # no equipment mapped to the device at that instant
    OUT_OF_ORDER = "out-of-order"  # a sequence number already seen or older: replayed, not applied
    SEQUENCE_GAP = "sequence-gap"  # messages were lost between the machine and us
    NO_BIRTH = "no-birth"  # Sparkplug data from a node or device whose birth we have not seen
    REFUSED = "refused-by-mes"  # MES refused a change (e.g. counted parts with no order running)


@dataclass(frozen=True, slots=True)
class Reading:
    device: str  # the machine's own id: the shopfloor id registered in the cross-reference registry
    at: datetime  # when the machine had these values (its clock, UTC)
    state: EquipmentState | None = None
    alarm: str | None = None  # "" when the machine reports no alarm; None when not reported
    good: int | None = None  # cumulative counters
    scrap: int | None = None


@dataclass(frozen=True, slots=True)
class Trouble:
    device: str
    problem: Problem
    detail: str


@dataclass(frozen=True, slots=True)
class Sequenced:
    """A device's message number, for transports that redeliver (MQTT QoS 1 sessions)."""

    device: str
    seq: int


def millis(moment: datetime) -> int:
    """Epoch milliseconds, as Sparkplug and the outbox keys write times."""
    return int(moment.timestamp() * 1000)


def alarm_text(value: object) -> str:
    """A machine's alarm as text; no alarm (null, empty, 0, false) is ""."""
    if value is None or value is False or value == 0 or value == "":
        return ""
    if not isinstance(value, str | int):
        raise ValueError(f"alarm {value!r} is neither text nor a code")
    return str(value)[:200]


def counter(value: object, name: str) -> int | None:
    """A cumulative counter's value (None when not reported); anything but a whole number ≥ 0 is refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} {value!r} is not a count")
    return value


def signal_value(signal: str, value: object, states: Callable[[object], EquipmentState | None]) -> object:
    """A signal's value as the fold takes it: a state, an alarm text or a count."""
    if signal == "state":
        state = states(value)
        if state is None:
            raise ValueError(f"unknown state value {value!r}")
        return state
    return alarm_text(value) if signal == "alarm" else counter(value, signal)
