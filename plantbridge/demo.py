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


# (idempotency key, purchase order key, quantity, location). Steel needs inspection: the quality
# process opens an inspection lot in QMS for it; bolts go straight to unrestricted stock.
RECEIPTS = [
    ("demo-receipt-1", "demo-po-1", 200, "WH1-A-01"),
    ("demo-receipt-2", "demo-po-2", 2000, "WH1-B-07"),
]


def load_demo(gateway: str, client_id: str, client_secret: str) -> None:
    """Through the gateway with the operator's token, as a user would. Idempotent: a second run
    changes nothing."""
    token = httpx.post(
        f"{gateway}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "erp:read erp:write"},
        auth=(client_id, client_secret),
        timeout=10,
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=f"{gateway}/erp/v1", headers=headers, timeout=10) as client:
        for item in ITEMS:
            create_once(client, "/items", item)
        for supplier in SUPPLIERS:
            create_once(client, "/suppliers", supplier)
        orders: dict[str, str] = {}
        for key, po in PURCHASE_ORDERS:
            response = client.post("/purchase-orders", json=po, headers={"Idempotency-Key": key})
            response.raise_for_status()
            orders[key] = response.json()["po_id"]
            print(f"demo: purchase order {orders[key]} for {po['supplier_id']}", flush=True)
        for key, po_key, quantity, location in RECEIPTS:
            body = {"po_id": orders[po_key], "quantity": quantity, "location": location}
            response = client.post("/goods-receipts", json=body, headers={"Idempotency-Key": key})
            response.raise_for_status()
            posted = response.json()
            print(f"demo: lot {posted['lot_id']} received into {posted['stock_status']}", flush=True)


def create_once(client: httpx.Client, path: str, body: Mapping[str, object]) -> None:
    response = client.post(path, json=body)
    if response.status_code == 501 and "reorder_point" in body:  # an ERP that keeps no reorder point
        print(f"demo: {response.json()['detail']}; {body.get('item_id')} created without one", flush=True)
        response = client.post(path, json={k: v for k, v in body.items() if k != "reorder_point"})
    if response.status_code not in (201, 409):  # 409: already loaded
        response.raise_for_status()
