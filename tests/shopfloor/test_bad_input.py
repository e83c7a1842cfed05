"""What machines send wrong: malformed payloads, devices mapped to no equipment, replayed and
missing sequence numbers, data without a birth. Each is counted per device, logged with the
device id, listed by the connector and shown by the operations console's monitor, and none stops
the connector: the next good message of the same device still applies."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiomqtt
import pysparkplug as spb

from connectors.shopfloor.simulator.json_edge import JsonEdge
from connectors.shopfloor.simulator.json_edge import device_id as json_device
from connectors.shopfloor.simulator.machine import Machine
from connectors.shopfloor.simulator.sparkplug_edge import device_id as sparkplug_device
from plantbridge.brokers import Mosquitto
from tests.shopfloor.conftest import Floor, Simulated, edge_of, new_tag, ok
from tests.support.http import client
from tests.support.http import problem as refused
from tests.support.wait import eventually


def publish(broker: Mosquitto, *messages: tuple[str, bytes]) -> None:
    async def send() -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port) as mqtt:
            for topic, payload in messages:
                await mqtt.publish(topic, payload, qos=1)

    asyncio.run(send())


def logged(log: Path, device: str, problem: str) -> bool:
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("device") == device and entry.get("problem") == problem:
            return True
    return False


def test_bad_input_is_counted_logged_with_the_device_and_shown_never_applied_and_never_stops_the_connector(
    floor: Floor, mosquitto: Mosquitto
) -> None:
    tag = new_tag()
    known, stranger = Machine(f"B{tag}"), Machine(f"X{tag}")
    edge = edge_of([known, stranger], mosquitto, tag)
    json_machine = Machine(f"Q{tag}")
    json_edge = JsonEdge([json_machine], host="127.0.0.1", port=mosquitto.port, prefix=f"plant/{tag}")
    sparkplug, plain = Simulated(edge), Simulated(json_edge)
    device = sparkplug_device(edge.group, edge.node, known.name)
    unknown = sparkplug_device(edge.group, edge.node, stranger.name)
    json_id = json_device(json_edge.prefix, json_machine.name)
    operations = None
    try:
        floor.machine(known.name, device, state="idle")  # the stranger is mapped to nothing
        floor.machine(json_machine.name, json_id, state="idle")

        # One connector for both transports.
        sections = f"{edge.machine_map()}\n{json_edge.machine_map()}"
        connector = floor.start_connector(sections, mqtt_url=mosquitto.url)
        plain.publish_all()
        eventually(lambda: floor.equipment(known.name)["state"] == "running")
        eventually(lambda: floor.equipment(json_machine.name)["state"] == "running")

        ddata = f"spBv1.0/{edge.group}/DDATA/{edge.node}/{known.name}"
        replayed = spb.DData(
            timestamp=spb.get_current_timestamp(),
            seq=edge.seq,
            metrics=[spb.Metric(timestamp=None, name=None, alias=1, datatype=spb.DataType.INT32, value=3)],
        ).encode()
        status = f"{json_edge.prefix}/{json_machine.name}/status"
        stale = {
            "seq": 1,
            "ts": "2026-01-01T00:00:00Z",
            "state": "down",
            "alarm": "E-1",
            "good": 0,
            "scrap": 0,
        }
        publish(
            mosquitto,
            (ddata, b"\x0a\x03not sparkplug"),  # malformed
            (ddata, replayed),  # a sequence number already seen, saying "down": never applied
            (status, b"{not json"),  # malformed
            (status, json.dumps(stale).encode()),  # a replayed message saying "down": never applied
            (f"spBv1.0/{edge.group}/DDATA/edge-9/ghost", b"\x08\x01"),  # no birth: a rebirth is asked
        )
        problems = {
            device: {"malformed-payload", "out-of-order"},
            unknown: {"unknown-device"},
            json_id: {"malformed-payload", "out-of-order"},
            f"spBv1.0/{edge.group}/edge-9/ghost": {"no-birth"},
        }
        for name, expected in problems.items():
            eventually(
                lambda n=name, e=expected: (d := floor.device(n)) is not None and e <= set(d["problems"])
            )
        assert connector.log_path is not None
        for name, expected in problems.items():
            for problem in expected:
                assert eventually(lambda n=name, p=problem: logged(connector.log_path, n, p)), (name, problem)
        listed = ok(floor.shopfloor.get("/shopfloor/v1/problems", params={"device": json_id}))["items"]
        assert {p["problem"] for p in listed} == {"malformed-payload", "out-of-order"}
        assert any("message 1 after" in p["detail"] for p in listed)
        # A cursor the API did not give out: "²" is a digit to str.isdigit() and not to int(); 40
        # digits are more than SQLite's integer holds. Each is a 422, not a 500.
        for cursor in ("%%%", _b64("²"), _b64("9" * 40), _b64("x"), _b64("\x00")):
            answer = floor.shopfloor.get("/shopfloor/v1/problems", params={"cursor": cursor})
            refused(answer, 422, "invalid-cursor")
        for cursor in ("%%%", _b64("\x00")):
            answer = floor.shopfloor.get("/shopfloor/v1/devices", params={"cursor": cursor})
            refused(answer, 422, "invalid-cursor")
        # A device name (an MQTT topic) may hold what is not printable: its cursor reads back.
        odd_name = _b64("mqtt:hall\u00a03/press")
        ok(floor.shopfloor.get("/shopfloor/v1/devices", params={"cursor": odd_name}))

        # Nothing of it was applied; and the connector still takes the next good message of each.
        assert floor.equipment(known.name)["state"] == "running"
        assert floor.equipment(json_machine.name)["state"] == "running"
        assert len(floor.history(json_machine.name)) == 1
        sparkplug.act(known.name, lambda m: m.breakdown("E-77"))
        plain.act(json_machine.name, lambda m: m.set_state("idle"))
        eventually(lambda: floor.equipment(known.name)["state"] == "down")
        eventually(lambda: floor.equipment(json_machine.name)["state"] == "idle")

        operations = floor.platform.launch(
            "operations",
            database_url=floor.platform.database_url("sqlite", f"{floor.platform.tag}_operations"),
            redis_url=floor.platform.redis_url,
            **floor.platform.own_client("operations"),
            **floor.platform.trust("operations"),
            shopfloor_url=connector.url,
            upstream_timeout_seconds="2",
        )
        with client(operations, scopes=["operations:read"], timeout=20) as http:
            page: Any = ok(http.get("/operations/v1/monitors/shopfloor-signals", params={"limit": 200}))
        shown = {o["record_id"]: o for o in page["items"]}
        for name, expected in problems.items():
            assert expected <= set(shown[name]["details"]["problems"]), shown[name]
        assert shown[unknown]["summary"].startswith(f"{unknown} (sparkplug): ")
    finally:
        if operations is not None:
            operations.stop()
        floor.stop_connector()
        sparkplug.stop()
        plain.stop()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()
