"""Traceability and the people around it, end to end: the gateway (tokens), ERP, QMS, MES, the
quality process and the supplier portal, each its own process on loopback, events over a real
Redis. The plant's rules issue supplier cases automatically and hold production releases for a
second person's approval."""

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

RULES = """
issue_supplier_cases = true

[[approvals]]
dispositions = ["release"]
origins = ["production"]
escalate_after_minutes = 0.03
escalate_to = "qa-manager"
"""
STEP = {"op_no": 10, "work_centre": "WC-1"}
PORTAL_DOCUMENT_LIMIT = 200_000


@dataclass
class Plant:
    platform: Platform
    http: dict[str, httpx.Client] = field(default_factory=dict)

    def __getattr__(self, name: str) -> httpx.Client:
        try:
            return self.http[name]
        except KeyError:
            raise AttributeError(name) from None

    def portal(self, supplier_id: str) -> httpx.Client:
        return client(
            self.platform.services["supplier"],
            scopes=["supplier:portal"],
            claims={"supplier_id": supplier_id},
            client_id=f"portal-{supplier_id}",
        )

    # --- seeding ----------------------------------------------------------------------------
    def item(self, prefix: str, *, inspected: bool = True) -> str:
        item_id = f"{prefix}-{tag()}"
        body = {"item_id": item_id, "description": item_id, "inspection_required": inspected}
        ok(self.erp.post("/erp/v1/items", json=body), 201)
        return item_id

    def supplier(self) -> str:
        supplier_id = f"SUP-{tag()}"
        ok(self.erp.post("/erp/v1/suppliers", json={"supplier_id": supplier_id, "name": supplier_id}), 201)
        return supplier_id

    def receive(
        self, supplier_id: str, item_id: str, quantity: float, supplier_lot: str | None = None
    ) -> Any:
        po = ok(
            self.erp.post(
                "/erp/v1/purchase-orders",
                json={"supplier_id": supplier_id, "lines": [{"item_id": item_id, "quantity": quantity}]},
            ),
            201,
        )
        body = {"po_id": po["po_id"], "quantity": quantity, "location": "WH1", "supplier_lot": supplier_lot}
        return ok(self.erp.post("/erp/v1/goods-receipts", json={k: v for k, v in body.items() if v}), 201)

    def inspection_of(self, lot_id: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            items = ok(self.qms.get("/qms/v1/inspection-lots", params={"lot_id": lot_id}))["items"]
            return items[0] if items else None

        lot: dict[str, Any] = eventually(found)
        return lot

    def decide(
        self,
        lot_id: str,
        *,
        passed: bool,
        disposition: str,
        decided_by: str = "inspector.kim",
        qms: httpx.Client | None = None,
    ) -> Any:
        """Inspect the lot in QMS (one visual check) and decide; the quality flow takes it from there."""
        qms = qms or self.qms
        il = self.inspection_of(lot_id)["inspection_lot_id"]
        ok(qms.post(f"/qms/v1/inspection-lots/{il}/start", json={"by": decided_by}))
        results = {"recorded_by": decided_by, "results": [{"characteristic": "VISUAL", "conforming": passed}]}
        ok(qms.post(f"/qms/v1/inspection-lots/{il}/results", json=results))
        decision = {"code": "A1" if passed else "R1", "disposition": disposition, "decided_by": decided_by}
        return ok(qms.post(f"/qms/v1/inspection-lots/{il}/usage-decision", json=decision))

    def flow_done(self, **params: str) -> Any:
        def done() -> Any:
            items = ok(self.quality.get("/quality/v1/flows", params=params))["items"]
            return next((f for f in items if f["status"] == "completed"), None)

        return eventually(done)

    def balances(self, lot_id: str) -> dict[str, float]:
        lot = ok(self.erp.get(f"/erp/v1/lots/{lot_id}"))
        return {f"{b['location']}:{b['status']}": b["quantity"] for b in lot["balances"]}

    def produce(self, item: str, consumed: tuple[str, str, float], made: str, quantity: float) -> str:
        """A running MES order that consumed one lot and completed one batch (which the quality
        flow receives into ERP quality-inspection stock, with an inspection lot in QMS)."""
        order_id = f"MO-{tag()}"
        body = {
            "order_id": order_id,
            "item_id": item,
            "planned_quantity": quantity,
            "site": "P1",
            "operations": [STEP],
        }
        ok(self.mes.post("/mes/v1/production-orders", json=body), 201)
        for action in ("release", "start"):
            ok(self.mes.post(f"/mes/v1/production-orders/{order_id}/{action}"))
        input_item, lot_id, used = consumed
        consumption = {"item_id": input_item, "lot_id": lot_id, "quantity": used}
        ok(self.mes.post(f"/mes/v1/production-orders/{order_id}/consumptions", json=consumption), 201)
        batch = {"lot_id": made, "quantity": quantity, "location": "FG"}
        ok(self.mes.post(f"/mes/v1/production-orders/{order_id}/batches", json=batch), 201)
        return order_id

    def move(self, kind: str, lot_id: str, quantity: float, **extra: Any) -> Any:
        body = {"type": kind, "lot_id": lot_id, "quantity": quantity, "location": "WH1", **extra}
        return ok(self.erp.post("/erp/v1/inventory-transactions", json=body), 201)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response.json() if response.content else None


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


@pytest.fixture(scope="package")
def plant(launch, database_url, redis_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    p = Platform(launch, database_url, "sqlite", "traceability", redis_server.url)
    p.start_gateway()
    for name in ("erp", "mes", "xref"):  # xref: the quality flows translate ids through the registry
        p.start(name)
    p.start("qms", documents_dir=str(tmp_path_factory.mktemp("qms_documents")))
    rules: Path = tmp_path_factory.mktemp("rules") / "quality.toml"
    rules.write_text(RULES)
    upstreams = {f"{name}_url": p.services[name].url for name in ("erp", "qms", "mes", "xref")}
    p.start(
        "quality",
        **p.own_client("quality"),
        **upstreams,
        rules_file=str(rules),
        flow_max_backoff_seconds="1",
        flow_max_attempts="60",
    )
    p.services["supplier"] = launch(
        "supplier",
        database_url=database_url("sqlite", "traceability_supplier"),
        redis_url=p.redis_url,
        **p.own_client("supplier"),
        **p.trust("supplier"),
        erp_url=p.services["erp"].url,
        qms_url=p.services["qms"].url,
        document_max_bytes=str(PORTAL_DOCUMENT_LIMIT),
    )
    plant = Plant(p)
    for name in ("erp", "qms", "mes", "quality"):
        # erp:release: the tests move held stock as quality would (issue 20's quality-owned releases)
        granted = [f"{name}:read", f"{name}:write", *(["erp:release"] if name == "erp" else [])]
        plant.http[name] = client(p.services[name], scopes=granted)
    yield plant
    for http in plant.http.values():
        http.close()
    p.stop()
