"""Quality flows end to end: gateway (tokens), ERP, QMS, MES and the quality process, each its own
process on loopback, events over a real Redis. Nothing is mocked."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis

from tests.support.http import client
from tests.support.platform import Platform
from tests.support.quality import balances, decide, inspection_lot_for, receive_inspected_goods
from tests.support.wait import eventually


@pytest.fixture(scope="module")
def platform(launch, database_url, redis_server) -> Iterator[Platform]:
    p = Platform(launch, database_url, "sqlite", "quality_e2e", redis_server.url)
    p.start_gateway()
    for name in ("erp", "qms", "mes", "xref"):
        p.start(name)
    p.start(
        "quality",
        **p.own_client("quality"),
        erp_url=p.services["erp"].url,
        qms_url=p.services["qms"].url,
        mes_url=p.services["mes"].url,
        xref_url=p.services["xref"].url,
        flow_max_backoff_seconds="1",
        flow_max_attempts="60",  # outlasts an ERP restart on a loaded CI machine (~10 s seen)
    )
    yield p
    p.stop()


@pytest.fixture(scope="module")
def erp(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["erp"], scopes=["erp:read", "erp:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def qms(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["qms"], scopes=["qms:read", "qms:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def quality(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["quality"], scopes=["quality:read", "quality:write"]) as http:
        yield http


def test_a_receipt_of_an_inspected_item_gets_an_inspection_lot(erp, qms, quality) -> None:
    receipt = receive_inspected_goods(erp, "corr-receipt-1")
    lot = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    assert lot["origin"] == "goods_receipt"
    assert lot["source_ref"] == receipt["receipt_id"]
    assert lot["supplier_id"] == receipt["supplier_id"]
    flows = quality.get("/quality/v1/flows", params={"lot_id": receipt["lot_id"]}).json()["items"]
    assert [(f["type"], f["status"], f["correlation_id"]) for f in flows] == [
        ("receipt_inspection", "completed", "corr-receipt-1")
    ]


def test_a_failed_inspection_blocks_stock_and_opens_nc_and_supplier_case(platform, erp, qms, quality) -> None:
    correlation_id = f"corr-block-{uuid.uuid4().hex[:8]}"
    receipt = receive_inspected_goods(erp, correlation_id)
    lot = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    decide(qms, lot, passed=False, disposition="block", correlation_id=correlation_id)

    eventually(lambda: balances(erp, receipt["lot_id"]) == {"BLOCKED": 60.0})
    flow = eventually(
        lambda: next(
            (
                f
                for f in quality.get(
                    "/quality/v1/flows", params={"lot_id": receipt["lot_id"], "type": "usage_decision"}
                ).json()["items"]
                if f["status"] == "completed"
            ),
            None,
        )
    )
    results = {s["name"]: s["result"] for s in flow["steps"]}
    nc_id = results["open_nonconformance"]["nc_id"]
    case_id = results["open_supplier_case"]["supplier_case_id"]
    nc = qms.get(f"/qms/v1/nonconformances/{nc_id}").json()
    assert (nc["lot_id"], nc["supplier_id"], nc["inspection_lot_id"]) == (
        receipt["lot_id"],
        receipt["supplier_id"],
        lot["inspection_lot_id"],
    )
    case = qms.get(f"/qms/v1/supplier-cases/{case_id}").json()
    assert case["supplier_id"] == receipt["supplier_id"]
    assert nc_id in case["nc_ids"]
    assert qms.get(f"/qms/v1/inspection-lots/{lot['inspection_lot_id']}").json()["status"] == "stock_posted"

    # One correlation id from the receipt through the block, the NC and the supplier case.
    assert flow["correlation_id"] == correlation_id


def test_every_event_of_the_block_carries_the_one_correlation_id(platform, erp, qms) -> None:
    correlation_id = f"corr-trace-{uuid.uuid4().hex[:8]}"
    receipt = receive_inspected_goods(erp, correlation_id)
    lot = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    decide(qms, lot, passed=False, disposition="block", correlation_id=correlation_id)
    eventually(lambda: balances(erp, receipt["lot_id"]) == {"BLOCKED": 60.0})
    eventually(
        lambda: any(
            e.type == "qms.supplier_case.opened.v1" and e.correlationid == correlation_id
            for e in platform.events("events.qms")
        )
    )
    erp_types = {e.type for e in platform.events("events.erp") if e.correlationid == correlation_id}
    assert {
        "erp.goods_receipt.posted.v1",
        "erp.stock.status_changed.v1",
        "erp.inventory_txn.posted.v1",
    } <= erp_types
    qms_types = {e.type for e in platform.events("events.qms") if e.correlationid == correlation_id}
    assert {
        "qms.inspection_lot.created.v1",
        "qms.usage_decision.made.v1",
        "qms.nonconformance.opened.v1",
        "qms.supplier_case.opened.v1",
    } <= qms_types
    quality_types = {e.type for e in platform.events("events.quality") if e.correlationid == correlation_id}
    assert quality_types == {"quality.procurement_notice.v1"}


def test_a_passed_inspection_releases_the_stock(erp, qms) -> None:
    receipt = receive_inspected_goods(erp, "corr-release")
    lot = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    decide(qms, lot, passed=True, disposition="release", correlation_id="corr-release")
    eventually(lambda: balances(erp, receipt["lot_id"]) == {"UNRESTRICTED": 60.0})


def test_a_completed_batch_is_received_for_inspection_then_released(platform, erp, qms, quality) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    item = f"FG-{tag}"
    assert (
        erp.post(
            "/erp/v1/items",
            json={
                "item_id": item,
                "description": "Shaft",
                "item_type": "finished_good",
                "inspection_required": True,
            },
        ).status_code
        == 201
    )
    flow = quality.post(
        "/quality/v1/flows/production-inspection",
        json={
            "order_id": f"MO-{tag}",
            "item_id": item,
            "lot_id": f"LOT-{tag}",
            "quantity": 25,
            "location": "FG1",
        },
    )
    assert flow.status_code == 201, flow.text
    lot = eventually(lambda: inspection_lot_for(qms, f"LOT-{tag}"))
    assert lot["origin"] == "production"
    assert balances(erp, f"LOT-{tag}") == {"QUALITY_INSPECTION": 25.0}
    decide(qms, lot, passed=True, disposition="release", correlation_id="corr-batch")
    eventually(lambda: balances(erp, f"LOT-{tag}") == {"UNRESTRICTED": 25.0})


def test_the_erp_api_dying_mid_flow_does_not_post_twice(platform, erp, qms, quality) -> None:
    receipt = receive_inspected_goods(erp, "corr-kill")
    lot = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    erp_process = platform.services["erp"]
    erp_process.kill()
    decide(qms, lot, passed=False, disposition="block", correlation_id="corr-kill")
    waiting = eventually(
        lambda: next(
            (
                f
                for f in quality.get(
                    "/quality/v1/flows", params={"lot_id": receipt["lot_id"], "type": "usage_decision"}
                ).json()["items"]
                if f["status"] == "waiting"
            ),
            None,
        )
    )
    assert waiting["last_error"]
    erp_process.start()
    eventually(lambda: balances(erp, receipt["lot_id"]) == {"BLOCKED": 60.0}, timeout=30)
    blocks = erp.get("/erp/v1/inventory-transactions", params={"lot_id": receipt["lot_id"], "type": "block"})
    assert len(blocks.json()["items"]) == 1
    timeline = quality.get(f"/quality/v1/flows/{waiting['flow_id']}/timeline").json()["entries"]
    assert "step_failed" in [e["kind"] for e in timeline]


def test_replaying_a_decision_does_not_open_a_second_nonconformance(platform, erp, qms, quality) -> None:
    receipt = receive_inspected_goods(erp, "corr-replay")
    lot = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    decide(qms, lot, passed=False, disposition="block", correlation_id="corr-replay")
    eventually(
        lambda: qms.get("/qms/v1/nonconformances", params={"lot_id": receipt["lot_id"]}).json()["items"]
    )
    # Redeliver the same decision event to the quality consumer group, as a replay would.
    redelivered = platform.replay_event("events.qms", "qms.usage_decision.made.v1", receipt["lot_id"])
    assert redelivered
    time.sleep(1.5)
    ncs = qms.get("/qms/v1/nonconformances", params={"lot_id": receipt["lot_id"]}).json()["items"]
    assert len(ncs) == 1
    flows = quality.get("/quality/v1/flows", params={"lot_id": receipt["lot_id"], "type": "usage_decision"})
    assert len(flows.json()["items"]) == 1


def dead_letters_naming(platform: Platform, flow_id: str) -> list[dict[bytes, bytes]]:
    redis = Redis.from_url(platform.redis_url)
    try:
        return [
            fields for _id, fields in redis.xrange("events.qms.dlq") if flow_id.encode() in fields[b"error"]
        ]
    finally:
        redis.close()


def test_a_stalled_flow_is_a_dead_letter_until_an_operator_settles_it(platform, qms, quality) -> None:
    """An NC disposition for a lot ERP does not know: ERP says 404, asking again will not help."""
    nc = qms.post(
        "/qms/v1/nonconformances",
        json={
            "title": "Scrap a lot that ERP never received",
            "severity": "minor",
            "disposition": "scrap",
            "lot_id": "LOT-UNKNOWN-TO-ERP",
            "reported_by": "e2e",
        },
    )
    assert nc.status_code == 201, nc.text
    flows_of_nc = {"nonconformance_id": nc.json()["nc_id"], "type": "nc_disposition"}
    flow = eventually(
        lambda: next(
            (
                f
                for f in quality.get("/quality/v1/flows", params=flows_of_nc).json()["items"]
                if f["status"] == "stalled"
            ),
            None,
        )
    )
    assert "erp answered 404" in flow["last_error"]
    [letter] = eventually(lambda: dead_letters_naming(platform, flow["flow_id"]))
    assert letter[b"group"] == b"quality"
    assert letter[b"type"] == b"qms.nonconformance.opened.v1"

    cancelled = quality.post(f"/quality/v1/flows/{flow['flow_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert dead_letters_naming(platform, flow["flow_id"]) == []  # settled: the monitor shows nothing
