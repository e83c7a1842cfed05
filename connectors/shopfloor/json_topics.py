"""Plain JSON machine messages on MQTT topics: one object per message, field names configured.

```json
{"seq": 1842, "ts": "2026-03-02T06:14:03.120Z", "state": "running", "alarm": "", "good": 1200, "scrap": 4}
```

The device is `mqtt:<topic>`. `seq` (a number the device increases by one per message) lets the
connector drop a message the broker delivers twice and see one that went missing; `ts` is an
RFC 3339 time or epoch milliseconds (the arrival time when absent). Every other field is optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from connectors.shopfloor.plant import JsonFields, StateTable
from connectors.shopfloor.readings import (
    Problem,
    Reading,
    Sequenced,
    Trouble,
    alarm_text,
    counter,
    device_fault,
    shown,
)

MAX_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class Decoded:
    reading: Reading | None
    sequenced: Sequenced | None
    troubles: list[Trouble]


def device_of(topic: str) -> str:
    return f"mqtt:{topic}"


def decode(
    topic: str, payload: bytes, received_at: datetime, fields: JsonFields, states: StateTable
) -> Decoded:
    device = device_of(topic)
    if fault := device_fault(device):
        # Any topic the subscription matches arrives here; one no registry lookup could answer is
        # recorded (under a name the database takes) and acknowledged, never asked about.
        return Decoded(None, None, [Trouble(shown(device), Problem.UNKNOWN_DEVICE, fault)])
    try:
        if len(payload) > MAX_BYTES:
            raise ValueError(f"{len(payload)} bytes is more than {MAX_BYTES}")
        body = msgspec.json.decode(payload)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        seq = counter(body.get(fields.seq), "seq")
        at = min(_instant(body.get(fields.at)) or received_at, received_at)
        good, scrap = counter(body.get(fields.good), "good"), counter(body.get(fields.scrap), "scrap")
        state = None
        if body.get(fields.state) is not None:
            state = states(body[fields.state])
            if state is None:
                raise ValueError(f"unknown state value {body[fields.state]!r}")
        alarm = alarm_text(body[fields.alarm]) if fields.alarm in body else None
    except (msgspec.DecodeError, ValueError, OverflowError, OSError) as exc:  # OSError: a time too far off
        return Decoded(None, None, [Trouble(device, Problem.MALFORMED, str(exc)[:500])])
    reading = Reading(device, at, state=state, alarm=alarm, good=good, scrap=scrap)
    return Decoded(reading, Sequenced(device, seq) if seq is not None else None, [])


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ValueError(f"time {value!r} is neither RFC 3339 text nor epoch milliseconds")


def sequence_verdict(last: int | None, seq: int) -> Problem | None:
    """None: the next message. OUT_OF_ORDER: one already seen (a redelivery or a replay): not
    applied. SEQUENCE_GAP: later than the next, so messages went missing: applied (levels are
    still true) and counted."""
    if last is None or seq == last + 1:
        return None
    return Problem.OUT_OF_ORDER if seq <= last else Problem.SEQUENCE_GAP
