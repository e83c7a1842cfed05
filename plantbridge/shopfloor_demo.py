"""`plantbridge up --demo --shopfloor`: an MQTT broker from PyPI (amqtt), one simulated CNC that
speaks Sparkplug B, and the records that make it a machine of the demo plant: MES equipment with a
running production order, the CMMS asset, and the cross-reference mappings that join them to the
machine's Sparkplug id. Then `plantbridge simulate command CNC-001 breakdown` stops it."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from connectors.shopfloor.simulator.run import Options, machine_map, transport
from connectors.shopfloor.simulator.sparkplug_edge import device_id
from plantbridge.brokers import Amqtt
from plantbridge.demo import create_once
from plantbridge.processes import ChildProcess

MACHINE = "CNC-001"
ORDER = "MO-SHAFT-5001"
SCOPES = "mes:read mes:write cmms:read cmms:write xref:read xref:write"


class ShopfloorDemo:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.broker = Amqtt(data_dir / "mqtt", port=port)
        self.options = Options(protocol="sparkplug", count=1, mqtt=self.broker.url)
        self.map_file = data_dir / "shopfloor-machines.toml"
        self.machines = SimulatedMachines(self.options)

    def start_broker(self) -> dict[str, str]:
        """The broker and the machine map; returns the connector's settings."""
        self.broker.start()
        self.map_file.write_text(machine_map(transport(self.options)))
        return {"SHOPFLOOR_MQTT_URL": self.broker.url, "SHOPFLOOR_MAPPING_FILE": str(self.map_file.resolve())}

    def start_machine(self, log_path: Path) -> None:
        self.machines.log_path = log_path
        self.machines.start()

    def stop(self) -> None:
        self.machines.stop()
        self.broker.stop()


class SimulatedMachines(ChildProcess):
    """`plantbridge simulate machines` as a supervised child of `plantbridge up`."""

    name = "machines"

    def __init__(self, options: Options) -> None:
        self.options = options
        self.process = None

    def spawn(self) -> None:
        o = self.options
        command = [sys.executable, "-m", "plantbridge", "simulate", "machines", "--protocol", o.protocol]
        command += ["--count", "1", "--mqtt", o.mqtt, "--group", o.group, "--node", o.node]
        command += ["--primary-host", o.primary_host, "--parts-per-second", "0.5"]
        self._launch(command)

    def ready(self) -> bool:
        return self.process is not None and self.process.poll() is None


def load_shopfloor_demo(gateway: str, client_id: str, client_secret: str, options: Options) -> None:
    """Idempotent, through the gateway with the operator's token."""
    token = httpx.post(
        f"{gateway}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": SCOPES},
        auth=(client_id, client_secret),
        timeout=10,
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=gateway, headers=headers, timeout=10) as http:
        equipment = {"equipment_id": MACHINE, "description": "CNC lathe, cell 3", "work_centre": "WC-TURN"}
        create_once(http, "/mes/v1/equipment", {**equipment, "site": "PLANT-1", "state": "running"})
        asset = {"asset_id": "AS-CNC-001", "tag": "CNC-001", "description": "CNC lathe, cell 3"}
        create_once(
            http,
            "/cmms/v1/assets",
            {**asset, "site": "PLANT-1", "criticality": "A", "cost_centre": "CC-TURN"},
        )
        entity = http.post(
            "/xref/v1/entities",
            json={"kind": "equipment", "label": "CNC lathe, cell 3"},
            headers={"Idempotency-Key": "demo-shopfloor-cnc-001"},
        )
        entity.raise_for_status()
        canonical = entity.json()["canonical_id"]
        device = device_id(options.group, options.node, MACHINE)
        for system, system_id in (("mes", MACHINE), ("cmms", "AS-CNC-001"), ("shopfloor", device)):
            body = {"canonical_id": canonical, "system": system, "system_id": system_id}
            create_once(http, "/xref/v1/mappings", body)
        operation = {"op_no": 10, "work_centre": "WC-TURN", "equipment_id": MACHINE, "description": "Turn"}
        order = {"order_id": ORDER, "item_id": "FG-SHAFT-100", "planned_quantity": 500, "site": "PLANT-1"}
        create_once(http, "/mes/v1/production-orders", {**order, "operations": [operation]})
        for action in ("release", "start"):
            http.post(f"/mes/v1/production-orders/{ORDER}/{action}")  # 409 once it runs
    print(f"demo: {MACHINE} ({device}) runs {ORDER}; `plantbridge simulate command {MACHINE} breakdown`")
