"""Use cases of the monitors API: run the monitors, page their findings, keep the gauges current."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from contracts.kit.paging import invalid_cursor, utcnow
from contracts.kit.problems import NotFound
from contracts.models.operations import MonitorList, MonitorPage, MonitorSummary, Offender, UpstreamWarning
from experience_apis.operations.gauges import MonitorGauges
from experience_apis.operations.monitors.base import Found, Monitor
from experience_apis.operations.monitors.registry import BY_NAME, MONITORS, run, run_all
from experience_apis.operations.upstreams import Upstreams

T = TypeVar("T")
K = TypeVar("K", bound=tuple[Any, ...])
API = "/operations/v1"


@dataclass
class Operations:
    """What the handlers need: the layers below and the gauges they keep current."""

    upstreams: Upstreams
    gauges: MonitorGauges

    async def aclose(self) -> None:
        await self.upstreams.aclose()


def monitor_of(name: str) -> Monitor:
    monitor = BY_NAME.get(name)
    if monitor is None:
        raise NotFound(f"no monitor {name!r}; known: {', '.join(BY_NAME)}", slug="monitor-not-found")
    return monitor


async def monitor_list(ops: Operations, limit: int, cursor: str | None) -> MonitorList:
    now = utcnow()
    results = await run_all(ops.upstreams, now)
    ops.gauges.record(results)
    summaries = [
        MonitorSummary(
            name=m.name,
            title=m.title,
            count=len(results[m.name].items),
            complete=results[m.name].complete,
            href=f"{API}/monitors/{m.name}",
        )
        for m in MONITORS
    ]
    shown, next_cursor = page_of(
        summaries, lambda s: (MONITORS.index(BY_NAME[s.name]),), tuple[int], limit, cursor
    )
    return MonitorList(
        checked_at=now,
        items=shown,
        next_cursor=next_cursor,
        warnings=warnings_of(*results.values()),
    )


async def monitor_page(ops: Operations, name: str, limit: int, cursor: str | None) -> MonitorPage:
    monitor = monitor_of(name)
    now = utcnow()
    found = await run(ops.upstreams, monitor, now)
    ops.gauges.record({name: found})
    shown, next_cursor = page_of(found.items, offender_key, tuple[float, str, str], limit, cursor)
    return MonitorPage(
        name=monitor.name,
        title=monitor.title,
        description=monitor.description,
        count=len(found.items),
        complete=found.complete,
        checked_at=now,
        items=shown,
        next_cursor=next_cursor,
        warnings=warnings_of(found),
    )


def warnings_of(*found: Found) -> list[UpstreamWarning]:
    seen: list[tuple[str, str]] = []
    for f in found:
        seen.extend(w for w in f.warnings if w not in seen)
    return [UpstreamWarning(source=s, detail=d) for s, d in seen]


def offender_key(o: Offender) -> tuple[float, str, str]:
    return (since_key(o.since), o.record_type, o.record_id)


def since_key(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0


def page_of(
    items: Sequence[T], key: Callable[[T], K], shape: type[K], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """A page of an ordered list computed on each request; the cursor is the last key shown, so a
    record that appears or clears between pages does not shift the others."""
    after = _decode(cursor, shape) if cursor else None
    rest = [i for i in items if after is None or key(i) > after]
    shown = rest[:limit]
    more = len(rest) > limit
    return shown, _encode(key(shown[-1])) if more and shown else None


def _encode(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(key)).decode().rstrip("=")


def _decode(cursor: str, shape: type[K]) -> K:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key: K = msgspec.json.decode(raw, type=shape)
    except (ValueError, msgspec.DecodeError) as exc:  # msgspec.ValidationError is a DecodeError
        raise invalid_cursor() from exc
    return key
