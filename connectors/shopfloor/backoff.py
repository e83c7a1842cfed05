"""Waiting between attempts to reach a source (a broker, an OPC UA server), visible as a gauge."""

from __future__ import annotations

import asyncio

from connectors.shopfloor.metrics import ShopfloorMetrics

BACKOFF_MAX = 30.0


class Backoff:
    """Waits between reconnection attempts: 1 s, doubling to 30 s, back to 1 s once connected."""

    def __init__(self, name: str, metrics: ShopfloorMetrics) -> None:
        self.name = name
        self.metrics = metrics
        self.delay = 1.0

    def connected(self) -> None:
        self.delay = 1.0
        self.metrics.link(self.name, True)

    async def wait(self) -> None:
        self.metrics.link(self.name, False)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, BACKOFF_MAX)
