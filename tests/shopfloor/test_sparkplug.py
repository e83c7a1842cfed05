"""Sparkplug B through Debian's Mosquitto: a CNC on an edge node breaks down (by a command through
its own protocol, as an HMI would): one maintenance request, its order held; recovering closes the
downtime. An edge node that dies (its Will, NDEATH) shows its machines disconnected, never running;
when it comes back its births bring them back."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from connectors.shopfloor.simulator.machine import Machine
from connectors.shopfloor.simulator.run import Options, transport
from connectors.shopfloor.simulator.sparkplug_edge import SparkplugEdge, device_id
from plantbridge.brokers import Mosquitto
from tests.shopfloor.conftest import Floor, Simulated, new_tag, ok
from tests.support.wait import eventually


def command(broker: Mosquitto, group: str, machine: str, action: str, *extra: str) -> None:
    """`plantbridge simulate command`, the operator's way to stop a simulated machine."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "plantbridge",
            "simulate",
            "command",
            machine,
            action,
            "--protocol",
            "sparkplug",
            "--mqtt",
            broker.url,
            "--group",
            group,
            "--node",
            "edge-1",
            *extra,
        ],
        check=True,
        timeout=30,
    )


def test_a_cnc_down_over_sparkplug_raises_one_request_holds_its_order_and_recovering_closes_the_downtime(
    floor: Floor, mosquitto: Mosquitto
) -> None:
    tag = new_tag()
    group, name, host_id = f"G{tag}", f"CNC-{tag}", f"pb-{tag}"
    edge = SparkplugEdge(
        [Machine(name)],
        host="127.0.0.1",
        port=mosquitto.port,
        group=group,
        node="edge-1",
        primary_host=host_id,
    )
    machines = Simulated(edge)
    try:
        cnc = floor.machine(name, device_id(group, "edge-1", name), state="idle")
        order = floor.running_order(name)
        # The edge node waits for its primary host: its births follow the connector's STATE.
        floor.start_connector(edge, mqtt_url=mosquitto.url)
        eventually(lambda: floor.equipment(name)["state"] == "running")
        assert edge.born
        rng = random.Random(3)
        for _ in range(7):
            machines.act(name, lambda m: m.make_part(rng, scrap_rate=0.0))
        command(mosquitto, group, name, "breakdown", "--alarm", "E-310 coolant pressure low")

        held = eventually(lambda: (o := floor.order(order))["status"] == "held" and o)
        assert held["operations"][0]["good_quantity"] == 7
        [request] = eventually(lambda: floor.requests(cnc["asset_id"]))
        assert held["maintenance_request_id"] == request["request_id"]
        assert "E-310 coolant pressure low" in request["description"]
        assert floor.equipment(name)["state_alarm"] == "E-310 coolant pressure low"

        command(mosquitto, group, name, "recover")
        [period] = eventually(lambda: [d for d in floor.downtime(name) if d["ended_at"]])
        assert period["alarm"] == "E-310 coolant pressure low"
        assert floor.equipment(name)["state"] == "running"
        assert len(floor.requests(cnc["asset_id"])) == 1
        assert floor.device(cnc["device"])["problems"] == {}
    finally:
        floor.stop_connector()
        machines.stop()


def test_a_dead_edge_node_shows_its_machines_disconnected_and_its_rebirth_brings_them_back(
    floor: Floor, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    tag = new_tag()
    options = Options(
        protocol="sparkplug",
        count=2,
        prefix=f"L{tag}",
        mqtt=mosquitto.url,
        group=f"G{tag}",
        primary_host=f"pb-{tag}",
    )
    names = [f"L{tag}-001", f"L{tag}-002"]
    for name in names:
        floor.machine(name, device_id(options.group, options.node, name), state="idle")
        floor.running_order(name)
    floor.start_connector(transport(options), mqtt_url=mosquitto.url)
    edge_cli = [
        sys.executable,
        "-m",
        "plantbridge",
        "simulate",
        "machines",
        "--protocol",
        "sparkplug",
        "--count",
        "2",
        "--prefix",
        f"L{tag}",
        "--mqtt",
        mosquitto.url,
        "--group",
        options.group,
        "--primary-host",
        options.primary_host,
        "--parts-per-second",
        "4",
    ]
    log = open(tmp_path / "edge.log", "ab")  # noqa: SIM115  (the edge process keeps it)
    edge = subprocess.Popen(edge_cli, stdout=log, stderr=subprocess.STDOUT)
    try:
        for name in names:
            eventually(lambda n=name: floor.equipment(n)["state"] == "running")
        edge.kill()  # a crash: no NDEATH of its own; the broker publishes its Will
        edge.wait()
        for name in names:
            eventually(lambda n=name: floor.equipment(n)["state"] == "disconnected", timeout=30)
            assert floor.equipment(name)["state_reason"] == "connection to the machine lost"
        edge = subprocess.Popen(edge_cli, stdout=log, stderr=subprocess.STDOUT)
        for name in names:
            eventually(lambda n=name: floor.equipment(n)["state"] == "running")
            assert [h["to_state"] for h in floor.history(name)] == ["running", "disconnected", "running"]
        counted = ok(floor.shopfloor.get("/shopfloor/v1/devices", params={"limit": 500}))["items"]
        troubled = [(d["device"], d["problems"], d["last_problem"]) for d in counted if d["problems"]]
        assert [t for t in troubled if t[0].startswith(f"spBv1.0/{options.group}/")] == []
    finally:
        edge.kill()
        edge.wait()
        log.close()
        floor.stop_connector()
