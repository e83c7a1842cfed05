"""Mosquitto killed (SIGKILL) in the middle of a stream of state changes, then restarted on the
same port with its persisted sessions.

- JSON topics, QoS 1, persistent sessions, machines that keep what the broker has not acknowledged:
  every change reaches MES exactly once and in order, every part is confirmed once.
- Sparkplug B (QoS 0 data by the specification, clean sessions): the host asks for rebirths and
  the births bring every machine's state and counters back: MES ends where the machines are,
  every part counted once, no change applied twice and none MES did not see the machine make.
"""

from __future__ import annotations

import time
from pathlib import Path

from connectors.shopfloor.simulator.json_edge import JsonEdge
from connectors.shopfloor.simulator.json_edge import device_id as json_device
from connectors.shopfloor.simulator.machine import Machine
from connectors.shopfloor.simulator.sparkplug_edge import device_id as sparkplug_device
from tests.shopfloor.conftest import Floor, Simulated, changes_made, edge_of, mosquitto_or_skip, new_tag
from tests.support.wait import eventually

MACHINES = 3
PERIOD = 0.6  # seconds between a machine's state changes (each state holds well over the debounce)


def is_subsequence(seen: list[str], made: list[str]) -> bool:
    remaining = iter(made)
    return all(state in remaining for state in seen)


def test_json_machines_lose_no_change_and_none_is_applied_twice_when_the_broker_is_killed(
    floor: Floor, tmp_path: Path
) -> None:
    broker = mosquitto_or_skip(tmp_path / "broker")
    tag = new_tag()
    machines = [Machine(f"J{tag}-{n}") for n in range(1, MACHINES + 1)]
    edge = JsonEdge(machines, host="127.0.0.1", port=broker.port, prefix=f"plant/{tag}")
    simulated = Simulated(edge)
    try:
        orders = floor.line({m.name: json_device(edge.prefix, m.name) for m in machines})
        floor.start_connector(edge, mqtt_url=broker.url)
        simulated.publish_all()
        for machine in machines:
            eventually(lambda m=machine: floor.equipment(m.name)["state"] == "running")
        stop = simulated.stream(PERIOD)
        time.sleep(3)
        broker.kill()
        time.sleep(2)  # the machines go on; what the broker did not take waits in them
        broker.start()
        time.sleep(3)
        stop()
        assert sum(len(m.changes) for m in machines) >= 3 * MACHINES
        for machine in machines:
            eventually(lambda m=machine: floor.in_step(m, orders[m.name]), timeout=60)
        for machine in machines:
            device = floor.device(json_device(edge.prefix, machine.name))
            assert "sequence-gap" not in device["problems"], device  # nothing was lost on the way
    finally:
        floor.stop_connector()
        simulated.stop()
        broker.stop()


def test_sparkplug_machines_come_back_exactly_where_they_are_when_the_broker_is_killed(
    floor: Floor, tmp_path: Path
) -> None:
    broker = mosquitto_or_skip(tmp_path / "broker")
    tag = new_tag()
    machines = [Machine(f"S{tag}-{n}") for n in range(1, MACHINES + 1)]
    edge = edge_of(machines, broker, tag)
    simulated = Simulated(edge)
    try:
        orders = floor.line({m.name: sparkplug_device(edge.group, edge.node, m.name) for m in machines})
        floor.start_connector(edge, mqtt_url=broker.url)
        for machine in machines:
            eventually(lambda m=machine: floor.equipment(m.name)["state"] == "running")
        stop = simulated.stream(PERIOD)
        time.sleep(3)
        broker.kill()
        time.sleep(2)
        broker.start()
        time.sleep(4)
        stop()
        for machine in machines:
            eventually(lambda m=machine: _converged(floor, m, orders[m.name]), timeout=60)
            seen = [h["to_state"] for h in floor.history(machine.name)]
            assert is_subsequence(seen, changes_made(machine)), (seen, changes_made(machine))
        assert edge.sessions == 2  # the edge node reconnected once and was born again
    finally:
        floor.stop_connector()
        simulated.stop()
        broker.stop()


def _converged(floor: Floor, machine: Machine, order_id: str) -> bool:
    order = floor.order(order_id)
    counted = (order["operations"][0]["good_quantity"], order["scrap_quantity"])
    return floor.equipment(machine.name)["state"] == machine.state and counted == (
        machine.good,
        machine.scrap,
    )
