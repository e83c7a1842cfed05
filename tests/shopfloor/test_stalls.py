"""One message must never hold back more than itself: not a machine's later changes toward MES (an
alarm text MES would refuse, a counter jump beyond what MES takes), nor the readings of every other
machine (a number no database column holds, a time no clock reaches, a device id the registry
refuses). Each is counted as a problem of its device, and what follows it still applies."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.shopfloor.json_topics import decode
from connectors.shopfloor.plant import JsonFields, StateTable
from connectors.shopfloor.readings import Problem, shown
from connectors.shopfloor.simulator.machine import Machine
from connectors.shopfloor.simulator.sparkplug_edge import device_id as sparkplug_device
from plantbridge.brokers import Mosquitto
from tests.shopfloor.conftest import Floor, Simulated, edge_of, new_tag
from tests.shopfloor.test_bad_input import publish
from tests.support.wait import eventually

HUGE = 10**20  # more than a BIGINT holds


class Plain:
    """Plain JSON machines under one topic prefix, their messages written out by the test."""

    def __init__(self, floor: Floor, broker: Mosquitto) -> None:
        self.floor, self.broker = floor, broker
        tag = new_tag()
        self.prefix = f"plant/{tag}"
        self.seq: dict[str, int] = {}
        # A session of its own: what an earlier test left unacknowledged is never delivered here.
        self.client_id = f"pb-{tag}"

    def start(self, **settings: str) -> None:
        """(Re)start the connector on these topics."""
        sections = f'[json]\ntopics = ["{self.prefix}/+/status"]\n'
        self.floor.start_connector(
            sections, mqtt_url=self.broker.url, mqtt_client_id=self.client_id, **settings
        )

    def topic(self, name: str) -> str:
        return f"{self.prefix}/{name}/status"

    def device(self, name: str) -> str:
        return f"mqtt:{self.topic(name)}"

    def send(self, name: str, **fields: Any) -> None:
        """The machine's next message (its own next `seq` unless given)."""
        self.seq[name] = fields.setdefault("seq", self.seq.get(name, 0) + 1)
        publish(self.broker, (self.topic(name), json.dumps(fields).encode()))

    def running(self, name: str, **settings: str) -> None:
        """Machine `name` known to MES, the connector (re)started, and the machine seen running."""
        self.floor.machine(name, self.device(name), state="idle")
        self.start(**settings)
        self.send(name, state="running")
        eventually(lambda: self.floor.equipment(name)["state"] == "running")

    def raw(self, name: str, payload: bytes) -> None:
        publish(self.broker, (self.topic(name), payload))


@pytest.fixture
def plain(floor: Floor, mosquitto: Mosquitto) -> Iterator[Plain]:
    yield Plain(floor, mosquitto)
    floor.stop_connector()


def problems(floor: Floor, device: str) -> set[str]:
    found = floor.device(device)
    return set(found["problems"]) if found else set()


@pytest.mark.parametrize(
    ("alarm", "shown"),
    [("E-17\u0000\u0000", "E-17"), ("E-17 " + "x" * 295, ("E-17 " + "x" * 295)[:194])],
    ids=["nul-padded", "long"],
)
def test_an_alarm_text_mes_would_refuse_stops_the_machine_and_holds_back_nothing(
    floor: Floor, plain: Plain, alarm: str, shown: str
) -> None:
    name = f"A{new_tag()}"
    plain.running(name)

    plain.send(name, state="down", alarm=alarm)
    stopped = eventually(lambda: (e := floor.equipment(name))["state"] == "down" and e)
    assert stopped["state_alarm"] == shown
    assert stopped["state_reason"] == f"alarm {shown}"
    plain.send(name, state="running", alarm="")
    eventually(lambda: floor.equipment(name)["state"] == "running")
    assert [h["to_state"] for h in floor.history(name)] == ["running", "down", "running"]


def test_a_counter_jump_beyond_what_mes_takes_is_malformed_and_holds_back_nothing(
    floor: Floor, plain: Plain
) -> None:
    name = f"C{new_tag()}"
    order = floor.line({name: plain.device(name)})[name]
    plain.start()
    plain.send(name, state="running", good=0, scrap=0)
    plain.send(name, good=7, scrap=1)
    eventually(lambda: floor.order(order)["operations"][0]["good_quantity"] == 7)

    # More parts at once than a confirmation to MES holds, confirmed before the stop it comes with:
    # the stop, and what follows it, still reach MES.
    plain.send(name, state="down", good=2_000_000_007)
    eventually(lambda: floor.equipment(name)["state"] == "down")
    plain.send(name, state="running")
    eventually(lambda: floor.equipment(name)["state"] == "running")
    assert "malformed-payload" in problems(floor, plain.device(name))
    assert floor.order(order)["operations"][0]["good_quantity"] == 7


def test_a_command_mes_refuses_as_invalid_is_refused_for_good_not_retried_ahead_of_later_ones(
    floor: Floor, plain: Plain, database_url: Any
) -> None:
    """A command stored with a body MES could never take (as an older version stored an alarm's
    reason over MES's limit) is refused and recorded, and the equipment's next change is sent."""
    name = f"W{new_tag()}"
    database = database_url("sqlite", f"sf_stalls_{name.lower()}")
    plain.running(name, database_url=database)
    floor.stop_connector()

    body = {"state": "down", "reason": "alarm " + "x" * 200}  # 206 characters: MES takes 200
    with sqlite3.connect(database.split("///", 1)[1]) as db:  # beside the command sent, as it was stored
        db.execute(
            "INSERT INTO sf_commands (equipment_id, device, kind, idempotency_key, body, machine_at,"
            " created_at, due_at, attempts) SELECT equipment_id, device, kind, ?, ?, machine_at,"
            " created_at, created_at, 0 FROM sf_commands WHERE equipment_id = ?",
            (f"shopfloor:{name}:state:down:1", json.dumps(body), name),
        )
    plain.start(database_url=database)
    plain.send(name, state="idle")
    eventually(lambda: floor.equipment(name)["state"] == "idle")
    assert "refused-by-mes" in problems(floor, plain.device(name))
    assert [h["to_state"] for h in floor.history(name)] == ["running", "idle"]


@pytest.mark.parametrize(
    ("backend", "payload"),
    [
        ("sqlite", {"seq": HUGE, "state": "running"}),
        ("postgres", {"seq": HUGE, "state": "running"}),
        ("sqlite", {"seq": 1, "state": "running", "good": HUGE}),
        ("sqlite", {"seq": 1, "state": "running", "ts": HUGE}),
    ],
    ids=["seq-sqlite", "seq-postgres", "counter", "time"],
)
def test_a_number_out_of_range_from_any_device_is_malformed_and_stops_no_other_machine(
    floor: Floor, plain: Plain, database_url: Any, backend: str, payload: dict[str, Any]
) -> None:
    name, other = f"N{new_tag()}", f"U{new_tag()}"
    floor.machine(name, plain.device(name), state="idle")
    floor.machine(other, plain.device(other), state="idle")
    database = database_url(backend, f"sf_stalls_{name.lower()}")
    plain.start(database_url=database)
    plain.send(name, state="running")
    eventually(lambda: floor.equipment(name)["state"] == "running")

    plain.raw(other, json.dumps(payload).encode())  # a mapped machine's, then an unmapped one's
    plain.raw(f"stranger-{name}", json.dumps(payload).encode())
    plain.send(name, state="idle")
    eventually(lambda: floor.equipment(name)["state"] == "idle")
    for device in (plain.device(other), plain.device(f"stranger-{name}")):
        eventually(lambda d=device: "malformed-payload" in problems(floor, d))
    # The machine that sent it is not stopped for good either: its next good message applies.
    plain.send(other, seq=2, state="running")
    eventually(lambda: floor.equipment(other)["state"] == "running")


def test_a_json_device_id_the_registry_refuses_is_an_unknown_device_and_stops_no_other_machine(
    floor: Floor, plain: Plain
) -> None:
    name = f"D{new_tag()}"
    plain.running(name)

    plain.send(f"{name}-" + "L" * 300, state="down")  # more than the registry's 128 (and a column's 255)
    plain.send(name, state="idle")
    eventually(lambda: floor.equipment(name)["state"] == "idle")
    listed = floor.shopfloor.get("/shopfloor/v1/devices", params={"with_problems": "true"}).json()["items"]
    refused = [d for d in listed if d["device"].startswith(f"mqtt:{plain.prefix}/{name}-")]
    assert len(refused) == 1, listed
    assert "unknown-device" in refused[0]["problems"]
    assert len(refused[0]["device"]) == 128


def test_a_json_topic_with_control_characters_is_an_unknown_device_never_looked_up() -> None:
    """Mosquitto refuses such a topic; a broker that lets it through must not stall the connector."""
    decoded = decode("plant/cell\x013/status", b'{"seq": 1}', datetime.now(UTC), JsonFields(), StateTable({}))
    assert decoded.reading is None
    assert [(t.device, t.problem) for t in decoded.troubles] == [
        ("mqtt:plant/cell\\x013/status", Problem.UNKNOWN_DEVICE)
    ]


def test_a_sparkplug_device_id_the_registry_refuses_is_an_unknown_device_and_stops_no_other_machine(
    floor: Floor, mosquitto: Mosquitto
) -> None:
    """An id the registry does not take (it would answer 400) is refused as the message arrives,
    recorded under a name the database takes, and never held for a lookup: the registry is not
    taken for down (which would hold every reading back)."""
    tag = new_tag()
    known, long = Machine(f"K{tag}"), Machine(f"K{tag}-" + "L" * 130)
    edge = edge_of([known, long], mosquitto, tag)
    simulated = Simulated(edge)
    try:
        floor.machine(known.name, sparkplug_device(edge.group, edge.node, known.name), state="idle")
        floor.start_connector(edge.machine_map(), mqtt_url=mosquitto.url)
        eventually(lambda: floor.equipment(known.name)["state"] == "running")
        simulated.act(known.name, lambda m: m.breakdown("E-5"))
        eventually(lambda: floor.equipment(known.name)["state"] == "down")
        unknown = shown(sparkplug_device(edge.group, edge.node, long.name))
        eventually(lambda: "unknown-device" in problems(floor, unknown))
    finally:
        floor.stop_connector()
        simulated.stop()
