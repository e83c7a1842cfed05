"""Running simulated machines: a transport, a workload, and the machine map the connector needs."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from connectors.shopfloor.simulator.json_edge import JsonEdge
from connectors.shopfloor.simulator.machine import Machine, fleet
from connectors.shopfloor.simulator.opcua_server import OpcUaMachines
from connectors.shopfloor.simulator.sparkplug_edge import SparkplugEdge

STATES_SECTION = """down_on_alarm = true

[states]   # the simulated controllers' state codes (JSON machines send the names)
running = ["running", 1]
idle = ["idle", 2]
down = ["down", 3]
"""


class Transport(Protocol):
    machines: dict[str, Machine]

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, machine: Machine) -> None: ...
    def machine_map(self) -> str: ...


@dataclass
class Options:
    protocol: str = "sparkplug"  # opcua | sparkplug | json
    count: int = 1
    prefix: str = "CNC"
    mqtt: str = "mqtt://127.0.0.1:1883"
    group: str = "PLANT1"
    node: str = "edge-1"
    primary_host: str = "plantbridge"  # "" when the edge node should not wait for a host
    topic_prefix: str = "plant/machines"
    opcua_port: int = 4840


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 1883


def transport(options: Options, machines: list[Machine] | None = None) -> Transport:
    machines = machines or fleet(options.prefix, options.count)
    if options.protocol == "opcua":
        return OpcUaMachines(machines, options.opcua_port)
    host, port = broker_address(options.mqtt)
    if options.protocol == "json":
        return JsonEdge(machines, host=host, port=port, prefix=options.topic_prefix)
    return SparkplugEdge(
        machines,
        host=host,
        port=port,
        group=options.group,
        node=options.node,
        primary_host=options.primary_host or None,
    )


def machine_map(transport: Transport) -> str:
    return f"{STATES_SECTION}\n{transport.machine_map()}"


@dataclass
class Workload:
    """Parts made at `parts_per_second` over all running machines, and state changes at
    `changes_per_second` (running ⇄ idle; a `breakdown_share` of them a breakdown, recovered by
    the next change of that machine)."""

    parts_per_second: float = 1.0
    changes_per_second: float = 0.0
    breakdown_share: float = 0.0
    updates: int = 0

    async def drive(
        self,
        machines: list[Machine],
        publish: Callable[[Machine], Awaitable[None]],
        rng: random.Random,
        tick: float = 0.01,
    ) -> None:
        parts = changes = 0.0
        turn = 0
        next_tick = time.monotonic()
        while True:
            parts += self.parts_per_second * tick
            changes += self.changes_per_second * tick
            while changes >= 1:
                changes -= 1
                machine = rng.choice(machines)
                self._change(machine, rng)
                await publish(machine)
                self.updates += 1
            while parts >= 1:
                parts -= 1
                for _ in range(len(machines)):  # the next running machine makes the part
                    machine = machines[turn % len(machines)]
                    turn += 1
                    if machine.make_part(rng):
                        await publish(machine)
                        self.updates += 1
                        break
            next_tick += tick
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    def _change(self, machine: Machine, rng: random.Random) -> None:
        if machine.state != "running":
            machine.recover()
        elif rng.random() < self.breakdown_share:
            machine.breakdown()
        else:
            machine.set_state("idle")
