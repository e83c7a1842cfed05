"""Redis down while the ERP API takes 100 receipts: writes keep working, every event goes out later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.consumer import Consumer, running
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent
from plantbridge.processes import RedisServer
from tests.events.support import prepare
from tests.support.db import rows
from tests.support.fixtures import DatabaseUrl, Serve
from tests.support.http import client
from tests.support.wait import eventually

RECEIPTS = 100


async def test_receipts_taken_while_redis_is_down_are_all_delivered_after_it_restarts(
    backend: str, in_process: Serve, database_url: DatabaseUrl, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    url = database_url(backend, f"erp_outage_{backend}")
    erp = in_process("erp", database_url=url, redis_url=server.url)
    redis = Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=5)
    try:
        with client(erp, scopes=["erp:read", "erp:write"]) as http:
            assert (
                http.post("/erp/v1/items", json={"item_id": "RM-OUT", "description": "Bar"}).status_code
                == 201
            )
            assert (
                http.post("/erp/v1/suppliers", json={"supplier_id": "SUP-OUT", "name": "Acme"}).status_code
                == 201
            )
            po = http.post(
                "/erp/v1/purchase-orders",
                json={"supplier_id": "SUP-OUT", "lines": [{"item_id": "RM-OUT", "quantity": 10_000}]},
            )
            assert po.status_code == 201, po.text

            server.stop()
            receipt_ids = []
            for _ in range(RECEIPTS):
                response = http.post(
                    "/erp/v1/goods-receipts",
                    json={"po_id": po.json()["po_id"], "quantity": 1, "location": "WH1"},
                )
                assert response.status_code == 201, response.text
                receipt_ids.append(response.json()["receipt_id"])

        waiting = await rows(
            url,
            "SELECT count(*) FROM kit_outbox WHERE published_at IS NULL AND type = :t",
            t="erp.goods_receipt.posted.v1",
        )
        assert waiting[0][0] == RECEIPTS  # staged, not lost, not yet sent

        server.start()  # same port, same append-only files

        # A consumer (its own SQLite inbox) sees every receipt once.
        delivered: list[str] = []

        async def collect(event: CloudEvent, session: AsyncSession) -> None:
            delivered.append(event.data.receipt_id)

        inbox_db = Database(f"sqlite+aiosqlite:///{tmp_path}/consumer.db")
        await prepare(inbox_db)
        consumer = Consumer(db=inbox_db, redis=redis, group="outage-check")
        consumer.on("erp.goods_receipt.posted.v1", collect)
        try:
            async with running(consumer):

                async def all_delivered() -> bool:
                    return len(delivered) >= RECEIPTS

                await eventually(all_delivered, timeout=60, what="all 100 receipt events")
        finally:
            await inbox_db.dispose()
        assert sorted(delivered) == sorted(receipt_ids)  # all of them, each once
        entries: Any = await redis.xrange("events.erp")
        on_stream = [f for _, f in entries if f[b"type"] == b"erp.goods_receipt.posted.v1"]
        assert len(on_stream) == RECEIPTS  # and the relay sent none of them twice
    finally:
        await redis.aclose()
        erp.stop()
        server.stop()
