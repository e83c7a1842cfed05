"""The OPC UA side (asyncua): one client session per configured server, one subscription with a
monitored item per machine signal.

Monitored items keep a queue on the server (not only the latest value), so a state that changes
twice between two publishing cycles arrives as two changes. When the session is lost the server's
machines are reported disconnected; after reconnecting, the subscription and its monitored items
are created again and the server sends every current value, which brings each machine's state and
counters back in step (counters are cumulative, so nothing counted meanwhile is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent
from asyncua.ua.uaerrors import UaError

from connectors.shopfloor.backoff import Backoff
from connectors.shopfloor.ingest import Delivery
from connectors.shopfloor.metrics import ShopfloorMetrics
from connectors.shopfloor.plant import OpcUaServer, StateTable
from connectors.shopfloor.readings import Problem, Reading, Trouble, signal_value
from contracts.kit.paging import as_utc
from contracts.models.mes import EquipmentState

log = logging.getLogger("plantbridge.shopfloor")
QUEUE_PER_ITEM = 100  # values the server keeps per monitored item between publishing cycles
EVENTS_BUFFERED = 10_000  # beyond this the session is dropped and rebuilt rather than lose values


class SessionLost(Exception):
    """The server told the subscription it is gone (or the client lost the connection)."""


class OpcUaSession:
    def __init__(
        self,
        server: OpcUaServer,
        states: StateTable,
        deliver: Callable[[Delivery], None],
        metrics: ShopfloorMetrics,
    ) -> None:
        self.server = server
        self.states = states
        self.deliver = deliver
        self.metrics = metrics
        self.source = f"opcua {server.url.rsplit('@', 1)[-1]}"
        self._signals: dict[Any, tuple[str, str]] = {}  # node id → (device, signal)
        self._subscribed = False

    async def run(self) -> None:
        backoff = Backoff(self.source, self.metrics)
        while True:
            self._subscribed = False
            try:
                await self._session(backoff)
            except (OSError, TimeoutError, UaError, SessionLost, ConnectionError) as exc:
                log.warning("%s: session lost or refused: %r", self.source, exc)
            if self._subscribed:  # the machines were heard from; now nothing is known of them
                now = datetime.now(UTC)
                gone = [
                    Reading(m.device, now, state=EquipmentState.DISCONNECTED) for m in self.server.machines
                ]
                self.deliver(Delivery(gone))
            await backoff.wait()

    async def _session(self, backoff: Backoff) -> None:
        client = Client(self.server.url, timeout=5, watchdog_intervall=1.0)
        if self.server.security:
            await client.set_security_string(self.server.security)
        await client.connect()
        try:
            subscription = await client.create_subscription(
                self.server.publishing_interval_ms,
                queue_maxsize=EVENTS_BUFFERED,
                overflow=OverflowPolicy.DISCONNECT,
            )
            nodes = []
            self._signals = {}
            for machine in self.server.machines:
                for signal, node_id in machine.nodes().items():
                    node = client.get_node(node_id)
                    self._signals[node.nodeid] = (machine.device, signal)
                    nodes.append(node)
            results = await subscription.subscribe_data_change(
                nodes, queuesize=QUEUE_PER_ITEM, sampling_interval=ua.Double(0)
            )
            self._report_refused(nodes, results)
            self._subscribed = True
            backoff.connected()
            log.info(
                "%s: subscribed to %d signals of %d machines",
                self.source,
                len(nodes),
                len(self.server.machines),
            )
            await self._receive(subscription)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5)

    def _report_refused(self, nodes: list[Any], results: list[Any]) -> None:
        troubles = [
            Trouble(
                self._signals[node.nodeid][0], Problem.MALFORMED, f"node {node.nodeid.to_string()}: {result}"
            )
            for node, result in zip(nodes, results, strict=True)
            if isinstance(result, ua.StatusCode)
        ]
        if troubles:
            self.deliver(Delivery(troubles=troubles))

    async def _receive(self, subscription: Any) -> None:
        while True:
            events = [await subscription.next_event()]
            while True:  # everything that arrived with it: one publish response, one delivery
                more = await subscription.next_event(timeout=0)
                if more is None:
                    break
                events.append(more)
            self.deliver(self._delivery(events))

    def _delivery(self, events: list[Any]) -> Delivery:
        """Readings per machine in arrival order; a signal seen again starts the machine's next reading."""
        delivery = Delivery()
        open_readings: dict[str, tuple[datetime, dict[str, Any]]] = {}
        for event in events:
            if isinstance(event, StatusChangeEvent):
                raise SessionLost(f"subscription status {event.notification.Status}")
            if not isinstance(event, DataChangeEvent) or event.node.nodeid not in self._signals:
                continue
            device, signal = self._signals[event.node.nodeid]
            data_value = event.data.monitored_item.Value
            if data_value.StatusCode is not None and not data_value.StatusCode.is_good():
                delivery.troubles.append(
                    Trouble(device, Problem.MALFORMED, f"{signal}: {data_value.StatusCode}")
                )
                continue
            try:
                value = signal_value(signal, event.value, self.states)
            except ValueError as exc:
                delivery.troubles.append(Trouble(device, Problem.MALFORMED, str(exc)))
                continue
            at = min(
                as_utc(data_value.SourceTimestamp or data_value.ServerTimestamp or datetime.now(UTC)),
                datetime.now(UTC),
            )
            current = open_readings.get(device)
            if current is not None and signal in current[1]:
                delivery.readings.append(Reading(device, current[0], **current[1]))
                current = None
            if current is None:
                current = open_readings[device] = (at, {})
            else:
                open_readings[device] = current = (max(current[0], at), current[1])
            current[1][signal] = value
        delivery.readings += [Reading(device, at, **values) for device, (at, values) in open_readings.items()]
        return delivery
