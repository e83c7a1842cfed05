"""The connector's Prometheus series, on the service's `/metrics` beside the kernel's HTTP ones."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ShopfloorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.readings = Counter(
            "plantbridge_shopfloor_readings",
            "Readings accepted from machines",
            ["protocol"],
            registry=registry,
        )
        self.problems = Counter(
            "plantbridge_shopfloor_problems",
            "Problems with what machines sent (malformed, unknown device, out of order, gaps)",
            ["problem"],
            registry=registry,
        )
        self.commands = Counter(
            "plantbridge_shopfloor_commands",
            "Changes written to MES, by outcome",
            ["kind", "outcome"],
            registry=registry,
        )
        self.backlog = Gauge(
            "plantbridge_shopfloor_backlog", "Changes accepted but not yet written to MES", registry=registry
        )
        self.connected = Gauge(
            "plantbridge_shopfloor_connected",
            "1 while the connection to a source (the MQTT broker, an OPC UA server) is up",
            ["source"],
            registry=registry,
        )
        self.latency = Histogram(
            "plantbridge_shopfloor_change_to_mes_seconds",
            "From a machine's change (its clock) to MES accepting it",
            ["kind"],
            registry=registry,
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30),
        )
        self.queued = Gauge(
            "plantbridge_shopfloor_queued", "Messages received but not yet committed", registry=registry
        )
        self.queued.set_function(self.queue_depth)
        self.connections: dict[str, bool] = {}  # for the status API, as the gauge says
        self._queues: list[Callable[[], int]] = []

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Count a queue of received readings (the ingest's, a transport's) into `queued`."""
        self._queues.append(depth)

    def queue_depth(self) -> int:
        return sum(depth() for depth in self._queues)

    def link(self, source: str, up: bool) -> None:
        self.connections[source] = up
        self.connected.labels(source).set(1 if up else 0)


def protocol_of(device: str) -> str:
    return "sparkplug" if device.startswith("spBv1.0/") else "mqtt" if device.startswith("mqtt:") else "opcua"
