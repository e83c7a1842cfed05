"""Every monitor, run side by side: one failing upstream leaves the others answering."""

from __future__ import annotations

import asyncio
from datetime import datetime

from contracts.kit.patterns import whole
from experience_apis.operations.monitors import (
    backbone,
    flows,
    holds,
    overdue,
    shopfloor,
    supervision,
    webhooks,
)
from experience_apis.operations.monitors.base import Found, Monitor, log
from experience_apis.operations.upstreams import Upstreams

MONITORS: tuple[Monitor, ...] = (
    *holds.MONITORS,
    *overdue.MONITORS,
    *flows.MONITORS,
    *backbone.MONITORS,
    *webhooks.MONITORS,
    *shopfloor.MONITORS,
    *supervision.MONITORS,
)
BY_NAME = {m.name: m for m in MONITORS}
NAME_PATTERN = whole(r"[a-z][a-z-]{0,63}")


async def run(up: Upstreams, monitor: Monitor, now: datetime) -> Found:
    try:
        found = await monitor.check(up, now)
    except Exception as exc:
        # A bug in one monitor must not blank the whole board; it shows as a warning and in the log.
        log.exception("monitor %s failed", monitor.name)
        found = Found(warnings=[("operations", f"the {monitor.name} check failed: {type(exc).__name__}")])
    found.items.sort(key=lambda o: (o.since.timestamp() if o.since else 0.0, o.record_type, o.record_id))
    return found


async def run_all(up: Upstreams, now: datetime) -> dict[str, Found]:
    results = await asyncio.gather(*(run(up, m, now) for m in MONITORS))
    return {m.name: found for m, found in zip(MONITORS, results, strict=True)}
