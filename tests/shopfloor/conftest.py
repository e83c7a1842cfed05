"""The shop floor end to end: Debian's Mosquitto and a real asyncua server (the simulator's) on
loopback, the gateway, MES, CMMS, xref, the maintenance process and the connector as their own
processes. Simulated machines run on an event loop of their own, in a thread, as a device would."""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from connectors.shopfloor.simulator.machine import Machine
from connectors.shopfloor.simulator.run import STATES_SECTION as STATES
from connectors.shopfloor.simulator.run import Transport, machine_map
from connectors.shopfloor.simulator.sparkplug_edge import SparkplugEdge
from plantbridge.brokers import Mosquitto, mosquitto_binary
from plantbridge.processes import ServiceProcess
from tests.support.fixtures import IN_CI
from tests.support.http import client
from tests.support.platform import Platform

T = TypeVar("T")
SYSTEMS = ("mes", "cmms", "xref")
LONG_AGO = "2020-01-01T00:00:00+00:00"
# Fast enough for tests, and still exercising every mechanism: the debounce, counts confirmed in
# batches, rebirth requests, the registry cache.
CONNECTOR = {
    "debounce_seconds": "0.2",
    "count_flush_seconds": "1",
    "rebirth_interval_seconds": "1",
    "birth_timeout_seconds": "5",
    "xref_cache_seconds": "5",
    "unknown_device_cache_seconds": "1",
}


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


def new_tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def edge_of(machines: list[Machine], broker: Mosquitto, tag: str) -> SparkplugEdge:
    """A Sparkplug edge node `edge-1` of group G<tag> on the broker, its primary host pb-<tag>."""
    return SparkplugEdge(
        machines, host="127.0.0.1", port=broker.port, group=f"G{tag}", node="edge-1", primary_host=f"pb-{tag}"
    )


def mosquitto_or_skip(folder: Path) -> Mosquitto:
    if mosquitto_binary() is None:
        if IN_CI:  # CI installs Mosquitto (.ci/run): these tests must never vanish there
            raise RuntimeError("mosquitto is not installed")
        pytest.skip("Debian's mosquitto is not installed here (apt-get install mosquitto)")
    return Mosquitto(folder).start()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = mosquitto_or_skip(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    broker.stop()


class Simulated:
    """Simulated machines behind a transport, on their own event loop in a thread."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(transport.start)

    def call(self, work: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(_awaited(work), self.loop).result(timeout)

    def machine(self, name: str) -> Machine:
        return self.transport.machines[name]

    def act(self, name: str, change: Callable[[Machine], object]) -> None:
        """Change a machine (on its loop) and publish what changed."""

        async def run() -> None:
            machine = self.machine(name)
            change(machine)
            await self.transport.publish(machine)

        self.call(lambda: run())

    def publish_all(self) -> None:
        async def run() -> None:
            for machine in self.transport.machines.values():
                await self.transport.publish(machine)

        self.call(run)

    def stream(self, period: float, seed: int = 1) -> Callable[[], None]:
        """Every machine changes state (running ⇄ idle) about every `period` seconds, making parts
        while it runs; returns the function that stops it. Each state holds longer than the
        connector's debounce, so every one of them is a real change MES must get."""
        rng = random.Random(seed)

        async def machine_stream(machine: Machine) -> None:
            while True:
                for _ in range(3):
                    await asyncio.sleep(period / 4 * (0.8 + 0.4 * rng.random()))
                    if machine.make_part(rng, scrap_rate=0.1):
                        await self.transport.publish(machine)
                await asyncio.sleep(period / 4)
                machine.set_state("idle" if machine.state == "running" else "running")
                await self.transport.publish(machine)

        async def start() -> list[asyncio.Task[None]]:
            return [asyncio.create_task(machine_stream(m)) for m in self.transport.machines.values()]

        tasks = self.call(start)

        def stop() -> None:
            async def cancel() -> None:
                # Cancel again until every task has ended: on Python 3.11, asyncio.wait_for (which
                # aiomqtt's publish awaits) swallows a cancellation that arrives as its future
                # completes (fixed in 3.12), and the machine's `while True` then goes on forever.
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20  # well inside call()'s 30 s, so this error is the one seen
                pending: set[asyncio.Task[None]] = set(tasks)
                while pending:
                    for task in pending:
                        task.cancel()
                    _, pending = await asyncio.wait(pending, timeout=1)
                    if pending and loop.time() > deadline:
                        raise RuntimeError(f"simulated machines would not stop streaming: {pending}")
                await asyncio.gather(*tasks, return_exceptions=True)  # all ended: takes their errors

            self.call(cancel)

        return stop

    def stop(self) -> None:
        self.call(self.transport.stop)
        self.call(_cancel_the_rest)  # what the transport's library left running (asyncua's sessions)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


async def _awaited(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


async def _cancel_the_rest() -> None:
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


def changes_made(machine: Machine) -> list[str]:
    """The states the machine went through from its first report (running) on."""
    return ["running", *(state for _, state in machine.changes)]


@dataclass
class Floor:
    """The platform under the machines, with a client per API and the connector's process."""

    platform: Platform
    folder: Path
    http: dict[str, httpx.Client] = field(default_factory=dict)
    connector: ServiceProcess | None = None
    registered: dict[str, str] = field(default_factory=dict)  # the connector's OAuth2 client

    def __getattr__(self, name: str) -> httpx.Client:
        try:
            return self.http[name]
        except KeyError:
            raise AttributeError(name) from None

    def start_connector(
        self, simulated: Transport | str, mqtt_url: str = "", database_url: str = "", **settings: str
    ) -> ServiceProcess:
        """(Re)start the connector on the machine map of `simulated` (or the sections given). Its
        database (the floor's, unless one is given) and its MQTT client id stay from start to start."""
        self.stop_connector()
        plant = self.folder / f"machines-{new_tag()}.toml"
        plant.write_text(
            machine_map(simulated) if not isinstance(simulated, str) else f"{STATES}\n{simulated}"
        )
        env = {**CONNECTOR, "mapping_file": str(plant), "mqtt_url": mqtt_url, **settings}
        env.setdefault("mqtt_client_id", f"plantbridge-{self.platform.tag}")
        name = "shopfloor"
        if not database_url:
            if name not in self.platform.databases:
                self.platform.databases[name] = self.platform.database_url(
                    "sqlite", f"{self.platform.tag}_{name}"
                )
            database_url = self.platform.databases[name]
        self.connector = self.platform.launch(
            name,
            database_url=database_url,
            redis_url=self.platform.redis_url,
            **self.platform.trust(name),
            **self._client,
            **env,
            mes_url=self.platform.services["mes"].url,
            xref_url=self.platform.services["xref"].url,
        )
        if name in self.http:
            self.http[name].close()
        self.http[name] = client(self.connector, scopes=["shopfloor:read"])
        return self.connector

    def stop_connector(self) -> None:
        if self.connector is not None:
            self.connector.stop()

    @property
    def _client(self) -> dict[str, str]:
        if not self.registered:
            self.registered = self.platform.own_client("shopfloor")
        return self.registered

    # --- seeding ------------------------------------------------------------------------------
    def machine(
        self, name: str, device: str, *, state: str = "running", criticality: str = "A"
    ) -> dict[str, str]:
        """A CNC known to MES and CMMS, its shop-floor id mapped to both through xref."""
        asset = f"AS-{name}"
        ok(
            self.mes.post(
                "/mes/v1/equipment",
                json={
                    "equipment_id": name,
                    "description": f"CNC {name}",
                    "work_centre": "WC-TURN",
                    "site": "P1",
                    "state": state,
                },
            )
        )
        ok(
            self.cmms.post(
                "/cmms/v1/assets",
                json={
                    "asset_id": asset,
                    "tag": f"T-{name}",
                    "description": f"CNC {name}",
                    "site": "P1",
                    "criticality": criticality,
                    "cost_centre": "CC-TURN",
                },
            )
        )
        canonical = ok(self.xref.post("/xref/v1/entities", json={"kind": "equipment", "label": name}))
        for system, system_id in (("mes", name), ("cmms", asset), ("shopfloor", device)):
            body = {
                "canonical_id": canonical["canonical_id"],
                "system": system,
                "system_id": system_id,
                "valid_from": LONG_AGO,
            }
            ok(self.xref.post("/xref/v1/mappings", json=body))
        return {"equipment_id": name, "asset_id": asset, "device": device}

    def line(self, devices: dict[str, str]) -> dict[str, str]:
        """Machines (name → shop-floor id), idle in MES, each with a running order: name → order."""
        orders = {}
        for name, device in devices.items():
            self.machine(name, device, state="idle")
            orders[name] = self.running_order(name)
        return orders

    def running_order(self, equipment_id: str) -> str:
        order_id = f"MO-{equipment_id}"
        ok(
            self.mes.post(
                "/mes/v1/production-orders",
                json={
                    "order_id": order_id,
                    "item_id": "FG-SHAFT",
                    "planned_quantity": 1000,
                    "site": "P1",
                    "operations": [{"op_no": 10, "work_centre": "WC-TURN", "equipment_id": equipment_id}],
                },
            )
        )
        for action in ("release", "start"):
            ok(self.mes.post(f"/mes/v1/production-orders/{order_id}/{action}"))
        return order_id

    # --- reading ------------------------------------------------------------------------------
    def equipment(self, equipment_id: str) -> Any:
        return ok(self.mes.get(f"/mes/v1/equipment/{equipment_id}"))

    def history(self, equipment_id: str) -> list[Any]:
        items: list[Any] = ok(
            self.mes.get(f"/mes/v1/equipment/{equipment_id}/state-changes", params={"limit": 500})
        )["items"]
        return items

    def downtime(self, equipment_id: str) -> list[Any]:
        items: list[Any] = ok(self.mes.get(f"/mes/v1/equipment/{equipment_id}/downtime"))["items"]
        return items

    def in_step(self, machine: Machine, order_id: str) -> bool:
        """MES holds exactly what the machine did: each state change once, in order, and every part."""
        states = [h["to_state"] for h in self.history(machine.name)]
        order = self.order(order_id)
        counted = (order["operations"][0]["good_quantity"], order["scrap_quantity"])
        return states == changes_made(machine) and counted == (machine.good, machine.scrap)

    def order(self, order_id: str) -> Any:
        return ok(self.mes.get(f"/mes/v1/production-orders/{order_id}"))

    def requests(self, asset_id: str) -> list[Any]:
        items: list[Any] = ok(self.cmms.get("/cmms/v1/maintenance-requests", params={"asset_id": asset_id}))[
            "items"
        ]
        return items

    def device(self, device: str) -> Any:
        found = [
            d
            for d in ok(self.shopfloor.get("/shopfloor/v1/devices", params={"limit": 500}))["items"]
            if d["device"] == device
        ]
        return found[0] if found else None

    def close(self) -> None:
        for http in self.http.values():
            http.close()


@pytest.fixture(scope="module")
def floor(
    launch: Any, database_url: Any, redis_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Floor]:
    platform = Platform(launch, database_url, "sqlite", f"sf_{new_tag().lower()}", redis_server.url)
    platform.start_gateway()
    for name in SYSTEMS:
        platform.start(name)
    platform.start(
        "maintenance",
        **platform.own_client("maintenance"),
        flow_max_backoff_seconds="1",
        flow_max_attempts="60",
        **{f"{name}_url": platform.services[name].url for name in ("mes", "cmms", "xref")},
        **{f"{name}_url": "http://127.0.0.1:9" for name in ("erp", "qms")},
    )
    floor = Floor(platform, tmp_path_factory.mktemp("shopfloor"))
    for name in (*SYSTEMS, "maintenance"):
        floor.http[name] = client(platform.services[name], scopes=[f"{name}:read", f"{name}:write"])
    yield floor
    floor.close()
    platform.stop()
