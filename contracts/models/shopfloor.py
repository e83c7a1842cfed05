"""Shop-floor connector v1 (`/shopfloor/v1`): what it heard from machines and what went wrong."""

from __future__ import annotations

from datetime import datetime

from contracts.models.common import Output


class Device(Output, kw_only=True):
    """A machine (an OPC UA machine, a Sparkplug node or device, an MQTT topic) as the connector knows it."""

    device: str  # its own id, as registered in the cross-reference registry's shopfloor id space
    protocol: str  # opcua | sparkplug | mqtt
    equipment_id: str | None  # the MES equipment it was last mapped to
    first_seen: datetime
    last_seen: datetime
    readings: int
    problems: dict[str, int]  # problem → count since first seen
    last_problem: str | None
    last_problem_at: datetime | None


class SignalProblem(Output, kw_only=True):
    """Something a machine sent that was not applied, or that MES refused; repeats of the same
    problem from the same device within a short interval are folded into one entry."""

    problem_id: str
    at: datetime
    device: str
    # malformed-payload | unknown-device | out-of-order | sequence-gap | no-birth | refused-by-mes
    problem: str
    detail: str
    repeats: int


class Status(Output, kw_only=True):
    connections: dict[str, bool]  # source (the MQTT sessions, each OPC UA server) → connected
    devices: int
    backlog: int  # changes accepted but not yet written to MES
    oldest_unsent_at: datetime | None  # the machine's time of the oldest of them
    queued: int = 0  # readings received but not yet committed
