"""The maintenance process end to end: the gateway (tokens), ERP, QMS, CMMS, MES, xref and the
maintenance process, each its own OS process on loopback, events over a real Redis. Nothing is
mocked; the process gets its own OAuth2 client registered at the gateway, as in production."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.http import client
from tests.support.platform import Platform
from tests.support.wait import eventually

SYSTEMS = ("erp", "qms", "cmms", "mes", "xref")
# The plant's rules for these tests: three NCs on a machine within an hour, or one critical NC,
# start maintenance; a critical NC also opens a supplier case for the raw material.
RULES = """
[nonconformance]
threshold_count = 3
window_minutes = 60
immediate_severities = ["critical"]
supplier_case_min_severity = "critical"

[completion]
default_cost_centre = "CC-MAINT"
"""
LONG_AGO = "2020-01-01T00:00:00+00:00"


@dataclass
class Plant:
    """The running platform plus a client per API, and helpers that seed one scenario each."""

    platform: Platform
    http: dict[str, httpx.Client] = field(default_factory=dict)

    def __getattr__(self, name: str) -> httpx.Client:
        try:
            return self.http[name]
        except KeyError:
            raise AttributeError(name) from None

    def process(self, name: str) -> Any:
        return self.platform.services[name]

    def correlated(self, correlation_id: str) -> Plant:
        """The same platform, every call carrying one correlation id (as the gateway would pass it on)."""
        http = {}
        for name, original in self.http.items():
            http[name] = httpx.Client(
                base_url=original.base_url,
                timeout=original.timeout,
                headers={**original.headers, "X-Correlation-ID": correlation_id},
            )
        return Plant(self.platform, http)

    def close(self) -> None:
        for http in self.http.values():
            http.close()

    # --- seeding ----------------------------------------------------------------------------
    def machine(self, tag: str, *, criticality: str = "B") -> dict[str, str]:
        """A CNC machine known to MES and CMMS, mapped through xref since long ago."""
        equipment, asset = f"CNC-{tag}", f"AS-{tag}"
        ok(
            self.mes.post(
                "/mes/v1/equipment",
                json={
                    "equipment_id": equipment,
                    "description": f"CNC lathe {tag}",
                    "work_centre": "WC-TURN",
                    "site": "P1",
                    "state": "running",
                },
            )
        )
        ok(
            self.cmms.post(
                "/cmms/v1/assets",
                json={
                    "asset_id": asset,
                    "tag": f"T-{tag}",
                    "description": f"CNC lathe {tag}",
                    "site": "P1",
                    "criticality": criticality,
                    "cost_centre": f"CC-{tag}",
                },
            )
        )
        canonical = ok(self.xref.post("/xref/v1/entities", json={"kind": "equipment", "label": equipment}))
        for system, system_id in (("mes", equipment), ("cmms", asset)):
            ok(
                self.xref.post(
                    "/xref/v1/mappings",
                    json={
                        "canonical_id": canonical["canonical_id"],
                        "system": system,
                        "system_id": system_id,
                        "valid_from": LONG_AGO,
                    },
                )
            )
        return {"equipment_id": equipment, "asset_id": asset, "canonical_id": canonical["canonical_id"]}

    def item(self, item_id: str, item_type: str, **extra: Any) -> None:
        ok(
            self.erp.post(
                "/erp/v1/items",
                json={"item_id": item_id, "description": item_id, "item_type": item_type, **extra},
            )
        )

    def purchased_lot(self, tag: str, item_id: str, quantity: float, location: str, **headers: str) -> Any:
        supplier = f"SUP-{tag}"
        if self.erp.get(f"/erp/v1/suppliers/{supplier}").status_code == 404:
            ok(self.erp.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": f"Supplier {tag}"}))
        po = ok(
            self.erp.post(
                "/erp/v1/purchase-orders",
                json={"supplier_id": supplier, "lines": [{"item_id": item_id, "quantity": quantity}]},
            )
        )
        return ok(
            self.erp.post(
                "/erp/v1/goods-receipts",
                headers=headers,
                json={"po_id": po["po_id"], "quantity": quantity, "location": location},
            )
        )

    def production(
        self, tag: str, machine: dict[str, str], *, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A running order on the machine that consumed a purchased raw-material lot and finished
        one batch, already received into ERP stock."""
        raw, finished = f"RM-{tag}", f"FG-{tag}"
        self.item(raw, "raw_material")
        self.item(finished, "finished_good")
        raw_lot = self.purchased_lot(tag, raw, 500, "WH-RAW")["lot_id"]
        order = ok(
            self.mes.post(
                "/mes/v1/production-orders",
                json={
                    "order_id": f"MO-{tag}",
                    "item_id": finished,
                    "planned_quantity": 100,
                    "site": "P1",
                    "operations": [
                        {
                            "op_no": 10,
                            "work_centre": "WC-TURN",
                            "equipment_id": machine["equipment_id"],
                            "description": "Turn shaft",
                        }
                    ],
                },
            )
        )
        for action in ("release", "start"):
            ok(self.mes.post(f"/mes/v1/production-orders/{order['order_id']}/{action}", headers=headers))
        ok(
            self.mes.post(
                f"/mes/v1/production-orders/{order['order_id']}/consumptions",
                headers=headers,
                json={"item_id": raw, "lot_id": raw_lot, "quantity": 40, "op_no": 10},
            )
        )
        batch = ok(
            self.mes.post(
                f"/mes/v1/production-orders/{order['order_id']}/batches",
                headers=headers,
                json={"quantity": 30, "lot_id": f"FG-LOT-{tag}", "location": "WH-FG"},
            )
        )
        ok(
            self.erp.post(
                "/erp/v1/production-receipts",
                headers=headers,
                json={
                    "production_order": order["order_id"],
                    "item_id": finished,
                    "quantity": 30,
                    "location": "WH-FG",
                    "lot_id": batch["lot_id"],
                    "stock_status": "UNRESTRICTED",
                },
            )
        )
        return {
            "order_id": order["order_id"],
            "raw_lot": raw_lot,
            "finished_lot": batch["lot_id"],
            "supplier_id": f"SUP-{tag}",
        }

    def nonconformance(
        self,
        machine: dict[str, str],
        severity: str,
        *,
        order_id: str | None = None,
        lot_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        return ok(
            self.qms.post(
                "/qms/v1/nonconformances",
                headers=headers,
                json={
                    "title": "Bore diameter out of tolerance",
                    "severity": severity,
                    "defect_codes": ["DIM-VAR"],
                    "equipment_id": machine["equipment_id"],
                    "production_order_id": order_id,
                    "lot_id": lot_id,
                    "reported_by": "inspector-1",
                },
            )
        )

    def spare(self, tag: str, *, stock: float, reorder_point: float, price: str = "12.50") -> dict[str, Any]:
        """A spare part with a reorder point and a standard price, with `stock` in the spares store."""
        item_id = f"SP-{tag}"
        self.item(item_id, "spare_part", reorder_point=reorder_point, standard_price=price, lot_tracked=True)
        lot = self.purchased_lot(tag, item_id, stock, "WH-SPARES")
        return {"item_id": item_id, "lot_id": lot["lot_id"]}

    def repair(
        self,
        request_id: str,
        *,
        parts: list[tuple[str, float]],
        hours: float = 2.5,
        rate: str = "60.00",
        headers: dict[str, str] | None = None,
    ) -> Any:
        """What the technician does in CMMS: accept, plan, take the asset in, use parts, book hours,
        report the work technically complete with cause and correction codes."""
        ok(self.cmms.post(f"/cmms/v1/maintenance-requests/{request_id}/accept", headers=headers))
        wo = ok(
            self.cmms.post(
                "/cmms/v1/work-orders", headers=headers, json={"request_id": request_id, "assignee": "TECH-7"}
            )
        )
        path = f"/cmms/v1/work-orders/{wo['wo_id']}"
        for action in ("release", "start"):
            ok(self.cmms.post(f"{path}/{action}", headers=headers))
        ok(
            self.cmms.post(
                f"/cmms/v1/assets/{wo['asset_id']}/start-maintenance",
                headers=headers,
                json={"work_order_id": wo["wo_id"], "note": "spindle inspection"},
            )
        )
        for item_id, quantity in parts:
            ok(
                self.cmms.post(
                    f"{path}/parts",
                    headers=headers,
                    json={"item_id": item_id, "quantity": quantity, "warehouse": "WH-SPARES"},
                )
            )
        ok(
            self.cmms.post(
                f"{path}/labor", headers=headers, json={"person_id": "TECH-7", "hours": hours, "rate": rate}
            )
        )
        return ok(
            self.cmms.post(
                f"{path}/complete",
                headers=headers,
                json={
                    "cause_code": "BRG-WEAR",
                    "correction_code": "REPLACE",
                    "note": "spindle bearing replaced",
                },
            )
        )

    def raise_maintenance(self, tag: str, severity: str = "critical") -> dict[str, Any]:
        """A machine with a running order and an NC that the maintenance flow turned into a request."""
        machine = self.machine(tag)
        run = self.production(tag, machine)
        nc = self.nonconformance(machine, severity, order_id=run["order_id"], lot_id=run["finished_lot"])
        flow = self.flow_done(nonconformance_id=nc["nc_id"], type="nc_maintenance")
        return {
            **machine,
            **run,
            "nc_id": nc["nc_id"],
            "request_id": step(flow, "request_maintenance")["request_id"],
        }

    # --- reading ------------------------------------------------------------------------------
    def flows(self, **params: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = ok(self.maintenance.get("/maintenance/v1/flows", params=params))[
            "items"
        ]
        return items

    def flow_done(self, **params: str) -> Any:
        """Wait until exactly the flows matching `params` exist and one of them completed."""
        return eventually(lambda: next((f for f in self.flows(**params) if f["status"] == "completed"), None))

    def balances(self, lot_id: str) -> dict[str, float]:
        lot = ok(self.erp.get(f"/erp/v1/lots/{lot_id}"))
        return {f"{b['location']}:{b['status']}": b["quantity"] for b in lot["balances"] if b["quantity"]}


def ok(response: httpx.Response) -> Any:  # a JSON body, as the test reads it
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


def step(flow: dict[str, Any], name: str) -> dict[str, Any]:
    found = next(s for s in flow["steps"] if s["name"] == name)
    assert found["status"] == "done", f"{name}: {found}"
    result: dict[str, Any] = found["result"]
    return result


def new_tag() -> str:
    return uuid.uuid4().hex[:6].upper()


@pytest.fixture(scope="package", params=["sqlite", "postgres"])
def plant(
    request: pytest.FixtureRequest,
    launch: Any,
    database_url: Any,
    redis_server: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Plant]:
    backend = str(request.param)
    platform = Platform(launch, database_url, backend, f"mnt_{backend}", redis_server.url)
    plant = start_plant(platform, tmp_path_factory.mktemp("rules"))
    yield plant
    plant.close()
    platform.stop()


def start_plant(platform: Platform, rules_dir: Path, **erp: str) -> Plant:
    """The gateway (the token issuer every service trusts; tests call the APIs directly), the
    systems (ERP with `erp` settings) and the maintenance process under the tests' plant rules."""
    platform.start_gateway()
    for name in SYSTEMS:
        platform.start(name, **(erp if name == "erp" else {}))
    rules = rules_dir / "plant.toml"
    rules.write_text(RULES)
    platform.start(
        "maintenance",
        **platform.own_client("maintenance"),
        rules_file=str(rules),
        flow_max_backoff_seconds="1",
        flow_max_attempts="60",
        **{f"{name}_url": platform.services[name].url for name in SYSTEMS},
    )
    scopes = {name: [f"{name}:read", f"{name}:write"] for name in (*SYSTEMS, "maintenance")}
    plant = Plant(platform)
    for name, granted in scopes.items():
        plant.http[name] = client(platform.services[name], scopes=granted)
    ok(
        plant.qms.post(
            "/qms/v1/defect-codes",
            json={"code": "DIM-VAR", "description": "Dimension out of tolerance", "category": "dimensional"},
        )
    )
    return plant
