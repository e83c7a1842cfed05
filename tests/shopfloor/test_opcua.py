"""A CNC on a real OPC UA server (asyncua) stops with an alarm: MES shows it down with the alarm,
exactly one maintenance request is raised and its production order held; when it runs again the
downtime closes. Parts counted before the stop reach the order first; a flicker never reaches MES."""

from __future__ import annotations

import random

from connectors.shopfloor.simulator.machine import Machine
from connectors.shopfloor.simulator.opcua_server import OpcUaMachines
from plantbridge.processes import free_port
from tests.shopfloor.conftest import Floor, Simulated, new_tag, ok
from tests.support.wait import eventually


def test_a_cnc_down_over_opcua_raises_one_request_holds_its_order_and_running_again_closes_the_downtime(
    floor: Floor,
) -> None:
    name = f"CNC-{new_tag()}"
    machines = Simulated(OpcUaMachines([Machine(name)], free_port()))
    try:
        cnc = floor.machine(name, f"opcua://simulator/{name}", state="idle")
        order = floor.running_order(name)
        floor.start_connector(machines.transport)
        eventually(lambda: floor.equipment(name)["state"] == "running")  # the initial values arrived
        rng = random.Random(7)
        for _ in range(12):
            machines.act(name, lambda m: m.make_part(rng, scrap_rate=0.2))
        made = machines.machine(name)
        # A flicker shorter than the debounce is chatter: MES never hears of it.
        machines.act(name, lambda m: m.breakdown("E-001 door switch"))
        machines.act(name, lambda m: m.recover())
        machines.act(name, lambda m: m.breakdown("E-204 spindle overload"))

        held = eventually(lambda: (o := floor.order(order))["status"] == "held" and o)
        assert (held["operations"][0]["good_quantity"], held["scrap_quantity"]) == (made.good, made.scrap)
        equipment = floor.equipment(name)
        assert (equipment["state"], equipment["state_alarm"]) == ("down", "E-204 spindle overload")
        [request] = eventually(lambda: floor.requests(cnc["asset_id"]))
        assert held["maintenance_request_id"] == request["request_id"]
        assert (request["production_order"], request["priority"]) == (order, "emergency")
        assert "E-204 spindle overload" in request["description"]
        assert [d["ended_at"] for d in floor.downtime(name)] == [None]

        machines.act(name, lambda m: m.recover())
        eventually(lambda: floor.downtime(name)[0]["ended_at"] is not None)
        assert floor.equipment(name)["state"] == "running"
        flows = ok(floor.maintenance.get("/maintenance/v1/flows", params={"equipment_id": name}))["items"]
        assert [f["type"] for f in flows] == ["breakdown"]
        assert len(floor.requests(cnc["asset_id"])) == 1
        history = [(h["to_state"], h["alarm"]) for h in floor.history(name)]
        assert history == [("running", None), ("down", "E-204 spindle overload"), ("running", None)]
        # The machine's change is the correlation id from MES to the maintenance request.
        assert flows[0]["correlation_id"].startswith(f"shopfloor:{name}:state:down:")
    finally:
        floor.stop_connector()
        machines.stop()


def test_a_lost_opcua_server_disconnects_its_machines_and_its_return_brings_their_state_back(
    floor: Floor,
) -> None:
    """The server goes away (a PLC rebooting): its machines are disconnected, never left running;
    when it answers again the subscription is made anew and its current values bring MES back."""
    name, port = f"CNC-{new_tag()}", free_port()
    machine = Machine(name)
    machines = Simulated(OpcUaMachines([machine], port))
    try:
        floor.machine(name, f"opcua://simulator/{name}", state="idle")
        floor.running_order(name)
        floor.start_connector(machines.transport)
        eventually(lambda: floor.equipment(name)["state"] == "running")
        machines.stop()
        eventually(lambda: floor.equipment(name)["state"] == "disconnected")
        machine.breakdown("E-517 servo fault")  # while nobody could see it
        machines = Simulated(OpcUaMachines([machine], port))  # the same machine, served again
        down = eventually(lambda: (e := floor.equipment(name))["state"] == "down" and e, timeout=60)
        assert down["state_alarm"] == "E-517 servo fault"
        assert [h["to_state"] for h in floor.history(name)] == ["running", "disconnected", "down"]
    finally:
        floor.stop_connector()
        machines.stop()
