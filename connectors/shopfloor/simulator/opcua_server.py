"""Simulated machines behind one OPC UA server (asyncua), as a cell controller would expose them.

Each machine is an object `<name>` with variables `State` (Int32: 1 running, 2 idle, 3 down),
`Alarm` (String, empty when none), `GoodCount` and `ScrapCount` (UInt64), and methods
`Breakdown(alarm)` and `Recover()`. Node ids are `ns=<ns>;s=<name>.<Variable>`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC
from typing import Any

from asyncua import ua
from asyncua.common.methods import uamethod
from asyncua.server.server import Server

from connectors.shopfloor.simulator.machine import Machine

NAMESPACE = "urn:plantbridge:simulator"
VARIABLES = (  # variable, type, the machine's attribute
    ("State", ua.VariantType.Int32, "code"),
    ("Alarm", ua.VariantType.String, "alarm"),
    ("GoodCount", ua.VariantType.UInt64, "good"),
    ("ScrapCount", ua.VariantType.UInt64, "scrap"),
)


def endpoint(port: int, host: str = "127.0.0.1") -> str:
    return f"opc.tcp://{host}:{port}/plantbridge/"


class OpcUaMachines:
    def __init__(self, machines: list[Machine], port: int, *, host: str = "127.0.0.1") -> None:
        self.machines = {m.name: m for m in machines}
        self.port = port
        self.url = endpoint(port, host)
        self.server = Server()
        self.namespace = 2
        self._last: dict[tuple[str, str], Any] = {}

    async def start(self) -> None:
        await self.server.init()
        self.server.set_endpoint(self.url)
        self.server.set_server_name("Plantbridge simulated machines")
        logging.getLogger("asyncua").setLevel(logging.WARNING)
        self.namespace = await self.server.register_namespace(NAMESPACE)
        objects = self.server.nodes.objects
        for name, machine in self.machines.items():
            node = await objects.add_object(self._node(name), name)
            for variable, kind, read in VARIABLES:
                await node.add_variable(
                    self._node(f"{name}.{variable}"), variable, ua.Variant(getattr(machine, read), kind)
                )
                self._last[(name, variable)] = getattr(machine, read)
            await node.add_method(
                self._node(f"{name}.Breakdown"),
                "Breakdown",
                self._command(machine, lambda m, alarm="": m.breakdown(alarm)),
                [ua.VariantType.String],
                [],
            )
            await node.add_method(
                self._node(f"{name}.Recover"),
                "Recover",
                self._command(machine, lambda m: m.recover()),
                [],
                [],
            )
        await self.server.start()

    def _command(self, machine: Machine, act: Callable[..., bool]) -> Any:
        @uamethod
        async def call(_parent: Any, *args: Any) -> None:
            act(machine, *args)
            await self.publish(machine)

        return call

    async def publish(self, machine: Machine) -> None:
        """Write the variables that changed, alarm before state: a client reading the state change
        then already knows why it stopped."""
        now = ua.DateTime.now(UTC)
        for variable, kind, read in (VARIABLES[1], VARIABLES[0], *VARIABLES[2:]):
            value = getattr(machine, read)
            if self._last.get((machine.name, variable)) == value:
                continue
            self._last[(machine.name, variable)] = value
            data = ua.DataValue(ua.Variant(value, kind), SourceTimestamp=now, ServerTimestamp=now)
            await self.server.write_attribute_value(self._node(f"{machine.name}.{variable}"), data)

    def _node(self, name: str) -> ua.NodeId:
        return ua.NodeId.from_string(f"ns={self.namespace};s={name}")

    async def stop(self) -> None:
        await self.server.stop()

    def machine_map(self) -> str:
        """The [[opcua]] section of a machine map for these machines."""
        lines = ["[[opcua]]", f'url = "{self.url}"', ""]
        for name in self.machines:
            node = f"ns={self.namespace};s={name}"
            lines += [
                "[[opcua.machines]]",
                f'device = "opcua://simulator/{name}"',
                f'state = "{node}.State"',
                f'alarm = "{node}.Alarm"',
                f'good = "{node}.GoodCount"',
                f'scrap = "{node}.ScrapCount"',
                "",
            ]
        return "\n".join(lines)
