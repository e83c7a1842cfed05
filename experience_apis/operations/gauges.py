"""Prometheus gauges of the monitors on the service's `/metrics`, refreshed in the background."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from prometheus_client import CollectorRegistry, Gauge

from contracts.kit.lifetimes import background
from contracts.kit.operations import StreamStats, all_stream_stats
from contracts.kit.paging import utcnow
from experience_apis.operations.monitors.base import FAILURES, Found, log
from experience_apis.operations.monitors.registry import MONITORS, run_all
from experience_apis.operations.upstreams import Upstreams


class MonitorGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.offending = Gauge(
            "plantbridge_monitor_offending_records",
            "Records a business monitor found out of order",
            ["monitor"],
            registry=registry,
        )
        self.complete = Gauge(
            "plantbridge_monitor_complete",
            "1 when every upstream of the monitor answered at its last check",
            ["monitor"],
            registry=registry,
        )
        self.dead_letters = Gauge(
            "plantbridge_stream_dead_letters",
            "Dead letters waiting per stream",
            ["stream"],
            registry=registry,
        )
        self.lag = Gauge(
            "plantbridge_consumer_group_lag",
            "Messages a consumer group has not read yet",
            ["stream", "group"],
            registry=registry,
        )
        self.pending = Gauge(
            "plantbridge_consumer_group_pending",
            "Messages a consumer group read but has not acknowledged",
            ["stream", "group"],
            registry=registry,
        )

    def record(self, results: dict[str, Found]) -> None:
        for name, found in results.items():
            self.offending.labels(name).set(len(found.items))
            self.complete.labels(name).set(1 if found.complete else 0)

    def record_streams(self, streams: list[StreamStats]) -> None:
        for stats in streams:
            self.dead_letters.labels(stats.stream).set(stats.dead_letters)
            for group in stats.groups:
                self.lag.labels(stats.stream, group.group).set(group.lag or 0)
                self.pending.labels(stats.stream, group.group).set(group.pending)


async def refresh(up: Upstreams, gauges: MonitorGauges) -> None:
    gauges.record(await run_all(up, utcnow()))
    try:
        gauges.record_streams(await all_stream_stats(up.redis))
    except FAILURES as exc:
        log.warning("stream gauges not refreshed: %s", exc)


def refresher(interval: float, parts: Callable[[Litestar], tuple[Upstreams, MonitorGauges]]) -> Any:
    """A lifespan that refreshes the gauges every `interval` seconds (none when 0)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if interval <= 0:
            yield
            return
        up, gauges = parts(app)

        async def loop() -> None:
            while True:
                try:
                    await refresh(up, gauges)
                except Exception:
                    log.exception("refreshing the monitor gauges failed")
                await asyncio.sleep(interval)

        async with background({"monitor-gauges": loop()}):
            yield

    return lifespan


__all__ = ["MONITORS", "MonitorGauges", "refresh", "refresher"]
