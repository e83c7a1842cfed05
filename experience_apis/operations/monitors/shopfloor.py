"""Machines whose signals the shop-floor connector could not apply, and a connector falling behind."""

from __future__ import annotations

from datetime import datetime

from contracts.models.operations import Offender
from experience_apis.operations.monitors.base import FAILURES, Found, Monitor
from experience_apis.operations.upstreams import Upstreams

API = "/shopfloor/v1"


async def signal_problems(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        devices = await up.shopfloor.troubled_devices()
    except FAILURES as exc:
        found.warn("shopfloor", exc, "problems with machine signals unknown")
        return found
    for device in devices:
        counts = ", ".join(f"{count} {problem}" for problem, count in sorted(device.problems.items()))
        found.items.append(
            Offender(
                record_type="device",
                record_id=device.device,
                summary=f"{device.device} ({device.protocol}): {counts}; last: {device.last_problem}"[:500],
                since=device.last_problem_at,
                links={"problems": f"{API}/problems?device={device.device}"},
                details={
                    "protocol": device.protocol,
                    "equipment_id": device.equipment_id,
                    "problems": device.problems,
                    "readings": device.readings,
                    "last_problem": device.last_problem,
                    "last_seen": device.last_seen.isoformat(),
                },
            )
        )
    return found


async def connector_backlog(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        status = await up.shopfloor.status()
    except FAILURES as exc:
        found.warn("shopfloor", exc, "the connector's backlog unknown")
        return found
    for source, connected in sorted(status.connections.items()):
        if not connected:
            found.items.append(
                Offender(
                    record_type="connection",
                    record_id=source,
                    summary=f"the shop-floor connector is not connected to {source}",
                    links={"status": f"{API}/status"},
                )
            )
    behind = status.oldest_unsent_at is not None and (now - status.oldest_unsent_at).total_seconds() > 60
    if behind:
        found.items.append(
            Offender(
                record_type="connector_backlog",
                record_id="shopfloor",
                summary=f"{status.backlog} machine changes not yet in MES, "
                f"the oldest since {status.oldest_unsent_at:%Y-%m-%d %H:%M:%S}Z",
                since=status.oldest_unsent_at,
                links={"status": f"{API}/status"},
                details={"backlog": status.backlog},
            )
        )
    return found


MONITORS = (
    Monitor(
        "shopfloor-signals",
        "Machine signals not applied",
        "Devices whose messages the shop-floor connector could not apply: malformed payloads, devices "
        "mapped to no equipment, replayed or missing sequence numbers, data without a birth, changes MES "
        "refused. Counted per device since it was first heard from.",
        signal_problems,
    ),
    Monitor(
        "shopfloor-connector",
        "Shop-floor connections and backlog",
        "Sources (the MQTT broker, OPC UA servers) the connector cannot reach, and machine changes "
        "waiting more than a minute to reach MES.",
        connector_backlog,
    ),
)
