"""A small demo plant, loaded over the public APIs so it exercises the same paths as a user."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

ITEMS = [
    {
        "item_id": "RM-STEEL-42",
        "description": "Steel bar 42CrMo4 Ø40",
        "base_uom": "KG",
        "inspection_required": True,
    },
    {"item_id": "RM-BOLT-M8", "description": "Hex bolt M8x30 8.8", "inspection_required": False},
    {
        "item_id": "FG-SHAFT-100",
        "description": "Drive shaft, machined",
        "item_type": "finished_good",
        "inspection_required": True,
    },
    {
        "item_id": "SP-SPINDLE-BRG",
        "description": "Spindle bearing 7014",
        "item_type": "spare_part",
        "reorder_point": 2,
    },
]
SUPPLIERS = [
    {"supplier_id": "SUP-ACME", "name": "Acme Steel GmbH", "country": "DE", "email": "quality@acme.example"},
    {"supplier_id": "SUP-FAST", "name": "Fastener Supply Ltd", "country": "GB"},
]
PURCHASE_ORDERS = [
    (
        "demo-po-1",
        {
            "supplier_id": "SUP-ACME",
            "reference": "Demo: steel for shafts",
            "lines": [{"item_id": "RM-STEEL-42", "quantity": 500, "unit_price": "2.35", "currency": "EUR"}],
        },
    ),
    (
        "demo-po-2",
        {
            "supplier_id": "SUP-FAST",
            "lines": [{"item_id": "RM-BOLT-M8", "quantity": 2000, "unit_price": "0.04", "currency": "EUR"}],
        },
    ),
]


def load_demo(urls: dict[str, str]) -> None:
    """Idempotent: running it twice changes nothing the second time."""
    erp = urls.get("erp")
    if not erp:
        return
    with httpx.Client(base_url=f"{erp}/erp/v1", timeout=10) as client:
        for item in ITEMS:
            _create(client, "/items", item)
        for supplier in SUPPLIERS:
            _create(client, "/suppliers", supplier)
        for key, po in PURCHASE_ORDERS:
            response = client.post("/purchase-orders", json=po, headers={"Idempotency-Key": key})
            response.raise_for_status()
            print(f"demo: purchase order {response.json()['po_id']} for {po['supplier_id']}", flush=True)


def _create(client: httpx.Client, path: str, body: Mapping[str, object]) -> None:
    response = client.post(path, json=body)
    if response.status_code not in (201, 409):  # 409: already loaded
        response.raise_for_status()
