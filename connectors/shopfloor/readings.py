"""What the protocol adapters hand over: readings of a machine's signals, and problems with input.

A reading carries levels, never deltas: the machine's state, its alarm and its cumulative good and
scrap counters, each only when the message reported it. A message that goes missing can then hide
at most a state shorter than the gap; counted parts are never lost, since the next counter value
covers them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import msgspec

from contracts.kit.paging import DB_INT_MAX
from contracts.models.mes import EquipmentState
from contracts.models.xref import SystemId

# MES takes a stop's reason as "alarm <text>" in at most 200 characters (mes.EquipmentStateChange);
# the alarm is bounded so the reason always fits, or MES would refuse the stop.
REASON_PREFIX = "alarm "
ALARM_MAX = 200 - len(REASON_PREFIX)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SHOWN_MAX = 128  # a refused device id is recorded under at most this many characters
# An upstream's 4xx about our request rather than what it names (our token, its load): the
# registry's lookup and MES's command are tried again later; any other 4xx refuses for good.
RETRY_LATER_4XX = frozenset({401, 403, 408, 429})


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
    """A machine's alarm as text; no alarm (null, empty, 0, false, blank) is "".

    PLC strings are fixed-size buffers padded with NULs, and may hold line breaks: the text ends at
    the first NUL (as a C string does) and other control characters become spaces, since MES and
    PostgreSQL refuse a NUL and MES a final line break."""
    if value is None or value is False or value == 0 or value == "":
        return ""
    if not isinstance(value, str | int):
        raise ValueError(f"alarm {value!r} is neither text nor a code")
    text = str(value).split("\x00", 1)[0]
    return _CONTROL.sub(" ", text).strip()[:ALARM_MAX]


def counter(value: object, name: str) -> int | None:
    """A cumulative counter's or a message number's value (None when not reported); anything but a
    whole number from 0 to the largest a database column holds is refused: a message number beyond
    it could not be stored, and the batch it came in would fail to commit again and again."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= DB_INT_MAX:
        raise ValueError(f"{name} {value!r} is not a count")
    return value


def device_fault(device: str) -> str | None:
    """Why the registry would refuse `device` as a shopfloor id (None: it would take it). Such a
    device can never be mapped to equipment: it is refused here rather than asked about."""
    try:
        msgspec.convert(device, SystemId)
    except msgspec.ValidationError:
        return "not an id the cross-reference registry takes (1 to 128 characters, no control characters)"
    return None


def shown(device: str) -> str:
    """A refused device id as it is recorded: control characters escaped, cut to SHOWN_MAX."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", device)
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"


def signal_value(signal: str, value: object, states: Callable[[object], EquipmentState | None]) -> object:
    """A signal's value as the fold takes it: a state, an alarm text or a count."""
    if signal == "state":
        state = states(value)
        if state is None:
            raise ValueError(f"unknown state value {value!r}")
        return state
    return alarm_text(value) if signal == "alarm" else counter(value, signal)
