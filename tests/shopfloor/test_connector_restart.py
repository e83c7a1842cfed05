"""The connector killed (SIGKILL) in the middle of a stream of state changes, then started again on
its database: what it had accepted it still owes MES; what it had not yet committed, the broker
delivers again (it acknowledges only after its commit) or the machines' births bring back."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest

from connectors.shopfloor.simulator.json_edge import JsonEdge
from connectors.shopfloor.simulator.json_edge import device_id as json_device
from connectors.shopfloor.simulator.machine import Machine
from connectors.shopfloor.simulator.sparkplug_edge import device_id as sparkplug_device
from plantbridge.brokers import Mosquitto
from tests.shopfloor.conftest import Floor, Simulated, edge_of, new_tag
from tests.shopfloor.test_broker_restart import MACHINES, PERIOD, _converged, is_subsequence
from tests.support.wait import eventually

KILLED_FOR = 2.0  # seconds the connector is away while the machines go on


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_json_machines_lose_no_change_and_none_is_applied_twice_across_a_connector_crash(
    floor: Floor, mosquitto: Mosquitto, backend: str
) -> None:
    tag = new_tag()
    machines = [Machine(f"R{tag}-{n}") for n in range(1, MACHINES + 1)]
    edge = JsonEdge(machines, host="127.0.0.1", port=mosquitto.port, prefix=f"plant/{tag}")
    simulated = Simulated(edge)
    database = floor.platform.database_url(backend, f"sf_restart_{tag.lower()}")
    settings = {"mqtt_url": mosquitto.url, "database_url": database, "mqtt_client_id": f"pb-{tag}"}
    try:
        orders = floor.line({m.name: json_device(edge.prefix, m.name) for m in machines})
        floor.start_connector(edge, **settings)
        simulated.publish_all()
        for machine in machines:
            eventually(lambda m=machine: floor.equipment(m.name)["state"] == "running")
        stop = simulated.stream(PERIOD)
        time.sleep(3)
        assert floor.connector is not None
        floor.connector.kill()
        time.sleep(KILLED_FOR)  # the broker keeps what arrives for the connector's persistent session
        floor.start_connector(edge, **settings)
        time.sleep(3)
        stop()
        for machine in machines:
            eventually(lambda m=machine: floor.in_step(m, orders[m.name]), timeout=60)
    finally:
        floor.stop_connector()
        simulated.stop()


def test_sparkplug_machines_come_back_exactly_where_they_are_across_a_connector_crash(
    floor: Floor, mosquitto: Mosquitto
) -> None:
    tag = new_tag()
    machines = [Machine(f"P{tag}-{n}") for n in range(1, MACHINES + 1)]
    edge = edge_of(machines, mosquitto, tag)
    simulated = Simulated(edge)
    try:
        orders = floor.line({m.name: sparkplug_device(edge.group, edge.node, m.name) for m in machines})
        floor.start_connector(edge, mqtt_url=mosquitto.url)
        for machine in machines:
            eventually(lambda m=machine: floor.equipment(m.name)["state"] == "running")
        stop = simulated.stream(PERIOD)
        time.sleep(3)
        assert floor.connector is not None
        floor.connector.kill()  # its Will says the primary host is offline: the edge node waits
        time.sleep(KILLED_FOR)
        floor.start_connector(edge, mqtt_url=mosquitto.url)
        time.sleep(3)
        stop()
        for machine in machines:
            eventually(lambda m=machine: _converged(floor, m, orders[m.name]), timeout=60)
            seen = [h["to_state"] for h in floor.history(machine.name)]
            assert is_subsequence(seen, ["running", *(s for _, s in machine.changes)])
    finally:
        floor.stop_connector()
        simulated.stop()


def test_what_the_connector_could_not_commit_is_never_acknowledged(
    floor: Floor, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Deterministic: the connector's database is locked while changes arrive, so none can be
    committed; the connector then dies. Had it acknowledged them on arrival, they would be gone."""
    tag = new_tag()
    machine = Machine(f"K{tag}")
    edge = JsonEdge([machine], host="127.0.0.1", port=mosquitto.port, prefix=f"plant/{tag}")
    simulated = Simulated(edge)
    database = tmp_path / "shopfloor.db"
    settings = {"mqtt_url": mosquitto.url, "database_url": f"sqlite+aiosqlite:///{database}"}
    settings["mqtt_client_id"] = f"pb-{tag}"
    try:
        floor.machine(machine.name, json_device(edge.prefix, machine.name), state="idle")
        order = floor.running_order(machine.name)
        floor.start_connector(edge, **settings)
        simulated.publish_all()
        eventually(lambda: floor.equipment(machine.name)["state"] == "running")
        lock = sqlite3.connect(database, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            rng = random.Random(5)
            for state in ("idle", "running", "idle"):
                simulated.act(machine.name, lambda m: m.make_part(rng, scrap_rate=0.0))
                simulated.act(machine.name, lambda m, s=state: m.set_state(s))
                time.sleep(0.4)
            time.sleep(1.0)  # delivered to the connector, which cannot commit them
            assert floor.connector is not None
            floor.connector.kill()
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert [h["to_state"] for h in floor.history(machine.name)] == ["running"]
        floor.start_connector(edge, **settings)
        eventually(lambda: floor.in_step(machine, order), timeout=60)
    finally:
        floor.stop_connector()
        simulated.stop()
