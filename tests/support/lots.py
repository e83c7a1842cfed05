"""Lots waiting for a usage decision after a failed inspection: received in ERP (the quality
process opens their inspection lots in QMS), started and recorded as nonconforming."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx


def _ok(response: httpx.Response) -> httpx.Response:
    assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
    return response


async def prepare_lots(
    erp: httpx.AsyncClient, qms: httpx.AsyncClient, count: int, concurrency: int = 16
) -> list[dict[str, str]]:
    """`count` lots of one new item from one new supplier, `concurrency` requests at a time; each
    as {lot_id, inspection_lot_id}."""
    tag = uuid.uuid4().hex[:6].upper()
    item, supplier = f"RM-{tag}", f"SUP-{tag}"
    _ok(
        await erp.post(
            "/erp/v1/items", json={"item_id": item, "description": "bench", "inspection_required": True}
        )
    )
    _ok(await erp.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "bench"}))
    po = _ok(
        await erp.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": count}]},
        )
    ).json()
    gate = asyncio.Semaphore(concurrency)

    async def receive() -> str:
        async with gate:
            receipt = await erp.post(
                "/erp/v1/goods-receipts", json={"po_id": po["po_id"], "quantity": 1, "location": "WH1"}
            )
            return str(_ok(receipt).json()["lot_id"])

    lot_ids = await asyncio.gather(*(receive() for _ in range(count)))
    ready: list[dict[str, str]] = []
    deadline = time.monotonic() + 120
    pending = set(lot_ids)
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} inspection lots not opened within 120 s"
        params: dict[str, str | int] = {"item_id": item, "limit": 500, "status": "created"}
        while True:  # every page: more than one page of lots may be waiting
            page = _ok(await qms.get("/qms/v1/inspection-lots", params=params)).json()
            for lot in page["items"]:
                if lot["lot_id"] in pending:
                    pending.discard(lot["lot_id"])
                    ready.append({"lot_id": lot["lot_id"], "inspection_lot_id": lot["inspection_lot_id"]})
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        await asyncio.sleep(0.2)

    async def fail(lot: dict[str, str]) -> None:
        async with gate:
            path = f"/qms/v1/inspection-lots/{lot['inspection_lot_id']}"
            _ok(await qms.post(f"{path}/start", json={}))
            results = {"results": [{"characteristic": "VISUAL", "conforming": False}]}
            _ok(await qms.post(f"{path}/results", json=results))

    await asyncio.gather(*(fail(lot) for lot in ready))
    return ready
