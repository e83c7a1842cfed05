"""Holds that hold, end to end through the gateway (issue 20): MES learns quality's decisions and
gets rework orders, batches reported under MES material numbers complete, MES consumption lowers
ERP stock, procurement and quality leadership are told by email (a real SMTP server), and a lot
unblocked behind QMS's back is found and re-blocked by reconciliation. Each service is its own
process on loopback, events go over a real Redis; every call of the plant goes through the gateway
with a token it issued. Replaying each new flow's events changes nothing a second time."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from redis import Redis

from plantbridge.processes import free_port
from tests.support.platform import Platform
from tests.support.smtp import Mailbox
from tests.support.wait import eventually

PLANT = "PLANT-7"
BUYERS = ["buyer@plant7.example", "purchasing@plant7.example"]
QUALITY_LEADS = ["qa.head@plant7.example"]
PLANT_SCOPES = [
    *("erp:read", "erp:write", "qms:read", "qms:write", "mes:read", "mes:write"),
    *("xref:read", "xref:write", "quality:read", "quality:write"),
]
RULES = f"""
[shop_floor]
rework_work_centre = "RW-1"

[notifications]
plant = "{PLANT}"
defect_thresholds = [{{ count = 3, window_hours = 24, per = "item" }}]

[notifications.recipients.{PLANT}]
procurement = {json.dumps(BUYERS)}
quality_leadership = {json.dumps(QUALITY_LEADS)}
"""


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port()).start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def platform(launch, database_url, redis_server, mailbox: Mailbox, tmp_path_factory) -> Iterator[Platform]:
    rules = tmp_path_factory.mktemp("rules") / "quality.toml"
    rules.write_text(RULES)
    p = Platform(launch, database_url, "sqlite", "holds_e2e", redis_server.url)
    p.start_gateway()  # the token issuer every service trusts
    for name in ("erp", "qms", "mes", "xref"):
        p.start(name)
    urls = {f"{name}_url": p.services[name].url for name in ("erp", "qms", "mes", "xref")}
    p.start(
        "quality",
        **p.own_client("quality"),
        **urls,
        rules_file=str(rules),
        smtp_host="127.0.0.1",
        smtp_port=str(mailbox.port),
        smtp_sender="plantbridge@plant7.example",
        reconcile_seconds="0",  # passes are asked for by the tests
        reconcile_mode="report",
        flow_max_backoff_seconds="1",
        flow_max_attempts="60",
    )
    p.services["operations"] = launch(
        "operations",
        database_url=database_url("sqlite", "holds_e2e_operations"),
        redis_url=p.redis_url,
        **p.own_client("operations"),
        **p.trust("operations"),
        **{k: v for k, v in urls.items() if k != "xref_url"},
        quality_url=p.services["quality"].url,
        refresh_seconds="0",
    )
    # A gateway replica (same database, keys and issuer) that routes to every service above.
    upstreams = ",".join(f"{name}={process.url}" for name, process in p.services.items())
    p.services["edge"] = launch(
        "gateway", database_url=p.gateway_db, port=free_port(), issuer=p.issuer, upstreams=upstreams
    )
    yield p
    p.stop()


@pytest.fixture(scope="module")
def secret(platform: Platform) -> str:
    return platform.register_client("plant-integration", [*PLANT_SCOPES, "operations:read"])


@contextmanager
def through_gateway(
    platform: Platform, client_id: str, secret: str, scopes: list[str]
) -> Iterator[httpx.Client]:
    """A client calling through the gateway with a token the gateway issued."""
    edge = platform.services["edge"].url
    answer = httpx.post(
        f"{edge}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": " ".join(scopes)},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    with httpx.Client(base_url=edge, headers={"Authorization": f"Bearer {token}"}, timeout=20) as http:
        yield http


@pytest.fixture(scope="module")
def gw(platform: Platform, secret: str) -> Iterator[httpx.Client]:
    """The plant's integration client."""
    with through_gateway(platform, "plant-integration", secret, PLANT_SCOPES) as http:
        yield http


@pytest.fixture(scope="module")
def clerk(platform: Platform) -> Iterator[httpx.Client]:
    """Someone in ERP who may release stock (erp:release) and names a decision QMS never made:
    since issue 20a the only way stock leaves a hold behind QMS's back (docs/holds.md)."""
    scopes = ["erp:read", "erp:write", "erp:release"]
    with through_gateway(
        platform, "erp-clerk", platform.register_client("erp-clerk", scopes), scopes
    ) as http:
        yield http


def unblock_behind_qms_back(clerk: httpx.Client, lot_id: str, quantity: float) -> None:
    never_made = {"kind": "nonconformance", "record_id": "NC-NEVER-MADE", "disposition": "use_as_is"}
    move = {
        "type": "unblock",
        "lot_id": lot_id,
        "quantity": quantity,
        "location": "WH1",
        "quality_ref": never_made,
    }
    ok(clerk.post("/erp/v1/inventory-transactions", json=move | {"reason": "needed it"}), 201)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response.json()


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


# --- what the plant does -------------------------------------------------------------------------
def item(gw: httpx.Client, item_id: str, *, inspected: bool = True, uom: str = "EA") -> None:
    body = {"item_id": item_id, "description": "Test", "inspection_required": inspected, "base_uom": uom}
    ok(gw.post("/erp/v1/items", json=body), 201)


def receive(gw: httpx.Client, item_id: str, quantity: float, *, inspected: bool = True) -> dict[str, Any]:
    """A purchase of a new item from a new supplier, received into WH1."""
    supplier = f"SUP-{tag()}"
    item(gw, item_id, inspected=inspected, uom="KG")
    ok(gw.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"}), 201)
    po = ok(
        gw.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": supplier, "lines": [{"item_id": item_id, "quantity": quantity}]},
        ),
        201,
    )
    receipt = ok(
        gw.post(
            "/erp/v1/goods-receipts", json={"po_id": po["po_id"], "quantity": quantity, "location": "WH1"}
        ),
        201,
    )
    return receipt | {"po_id": po["po_id"]}


def map_item(gw: httpx.Client, erp_id: str, mes_id: str) -> None:
    canonical = ok(gw.post("/xref/v1/entities", json={"kind": "item", "label": erp_id}), 201)["canonical_id"]
    for system, system_id in (("erp", erp_id), ("mes", mes_id)):
        body = {"canonical_id": canonical, "system": system, "system_id": system_id}
        ok(gw.post("/xref/v1/mappings", json=body), 201)


def running_order(gw: httpx.Client, mes_item: str, quantity: float = 100) -> str:
    body = {
        "item_id": mes_item,
        "planned_quantity": quantity,
        "site": PLANT,
        "uom": "KG",
        "operations": [{"op_no": 10, "work_centre": "WC-1"}],
    }
    order_id = ok(gw.post("/mes/v1/production-orders", json=body), 201)["order_id"]
    for action in ("release", "start"):
        ok(gw.post(f"/mes/v1/production-orders/{order_id}/{action}"))
    return str(order_id)


def inspection_lot(gw: httpx.Client, lot_id: str) -> dict[str, Any] | None:
    items = ok(gw.get("/qms/v1/inspection-lots", params={"lot_id": lot_id}))["items"]
    return items[0] if items else None


def decide(gw: httpx.Client, lot_id: str, disposition: str) -> str:
    il = eventually(lambda: inspection_lot(gw, lot_id), what=f"the inspection lot of {lot_id}")
    il_id = il["inspection_lot_id"]
    ok(gw.post(f"/qms/v1/inspection-lots/{il_id}/start", json={}))
    passed = disposition in ("release", "use_as_is")
    results = {"results": [{"characteristic": "VISUAL", "conforming": passed}], "recorded_by": "inspector-1"}
    ok(gw.post(f"/qms/v1/inspection-lots/{il_id}/results", json=results))
    decision = {"code": "A1" if passed else "R1", "disposition": disposition, "decided_by": "qa.lead"}
    ok(gw.post(f"/qms/v1/inspection-lots/{il_id}/usage-decision", json=decision))
    return str(il_id)


def balances(gw: httpx.Client, lot_id: str) -> dict[str, float]:
    return {b["status"]: b["quantity"] for b in ok(gw.get(f"/erp/v1/lots/{lot_id}"))["balances"]}


def flows(gw: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    return list(ok(gw.get("/quality/v1/flows", params={"limit": 200, **filters}))["items"])


def completed(gw: httpx.Client, flow_type: str, **filters: str) -> dict[str, Any] | None:
    done = [f for f in flows(gw, type=flow_type, **filters) if f["status"] == "completed"]
    return done[0] if done else None


def batches(gw: httpx.Client, lot_id: str) -> list[dict[str, Any]]:
    return list(ok(gw.get("/mes/v1/batches", params={"lot_id": lot_id}))["items"])


def replay(
    platform: Platform, stream: str, event_type: str, containing: str, *, new_id: bool = False
) -> None:
    """Deliver a published event again: unchanged (an operator's replay), or as a new event with the
    same content (a system that sends the same thing twice)."""
    redis = Redis.from_url(platform.redis_url)
    try:
        for _entry, fields in redis.xrange(stream):
            if fields.get(b"type") == event_type.encode() and containing.encode() in fields[b"event"]:
                if new_id:
                    event = json.loads(fields[b"event"])
                    event["id"] = str(uuid.uuid4())
                    fields = {**fields, b"event": json.dumps(event).encode()}
                redis.xadd(stream, fields)
                return
        raise AssertionError(f"no {event_type} containing {containing} on {stream}")
    finally:
        redis.close()


def settled(gw: httpx.Client, **filters: str) -> list[tuple[str, str]]:
    """The flows matching, once none of them is still running."""
    found = flows(gw, **filters)
    return (
        []
        if any(f["status"] in ("running", "waiting") for f in found)
        else [(f["flow_id"], f["status"]) for f in found]
    )


# --- MES learns, ids through the registry ----------------------------------------------------------
def test_a_batch_under_a_mapped_mes_number_completes_and_mes_follows_the_decision(platform, gw) -> None:
    t = tag()
    erp_item, mes_item, lot_id = f"FG-{t}", f"MAT-{t}", f"LOT-{t}"
    item(gw, erp_item, uom="KG")
    map_item(gw, erp_item, mes_item)  # MES knows the product only by its own material number
    order_id = running_order(gw, mes_item)
    batch = ok(
        gw.post(f"/mes/v1/production-orders/{order_id}/batches", json={"quantity": 40, "lot_id": lot_id}), 201
    )
    assert batch["quality_status"] == "pending"

    flow = eventually(lambda: completed(gw, "production_inspection", lot_id=lot_id), what="the receipt")
    assert flow["steps"][0]["result"]["item_id"] == erp_item
    lot = ok(gw.get(f"/erp/v1/lots/{lot_id}"))
    assert (lot["item_id"], balances(gw, lot_id)) == (erp_item, {"QUALITY_INSPECTION": 40.0})
    assert eventually(lambda: inspection_lot(gw, lot_id))["item_id"] == erp_item

    decide(gw, lot_id, "block")
    eventually(lambda: batches(gw, lot_id)[0]["quality_status"] == "quarantined", what="MES quarantined")
    il_id = inspection_lot(gw, lot_id)["inspection_lot_id"]
    assert batches(gw, lot_id)[0]["quality_ref"] == il_id
    # Quality later accepts the lot with a deviation (a nonconformance disposition): MES follows.
    nc = {"title": "Deviation", "severity": "minor", "lot_id": lot_id, "reported_by": "qa.lead"}
    nc_id = ok(gw.post("/qms/v1/nonconformances", json=nc | {"disposition": "use_as_is"}), 201)["nc_id"]
    eventually(lambda: batches(gw, lot_id)[0]["quality_status"] == "released", what="MES released")
    assert batches(gw, lot_id)[0]["quality_ref"] == nc_id
    assert balances(gw, lot_id) == {"UNRESTRICTED": 40.0}

    before = settled(gw, lot_id=lot_id)
    assert before
    replay(platform, "events.mes", "mes.batch.completed.v1", lot_id)
    replay(platform, "events.qms", "qms.usage_decision.made.v1", lot_id)
    receipts = ok(gw.get("/erp/v1/goods-receipts", params={"limit": 50}))["items"]
    assert eventually(lambda: settled(gw, lot_id=lot_id)) == before
    assert [r for r in receipts if r["lot_id"] == lot_id] == [
        r
        for r in ok(gw.get("/erp/v1/goods-receipts", params={"limit": 50}))["items"]
        if r["lot_id"] == lot_id
    ]
    assert len(batches(gw, lot_id)) == 1


def test_an_unmapped_mes_number_stalls_visibly_and_creates_nothing(platform, gw) -> None:
    t = tag()
    order_id = running_order(gw, f"MAT-UNKNOWN-{t}")
    lot_id = f"LOT-{t}"
    ok(gw.post(f"/mes/v1/production-orders/{order_id}/batches", json={"quantity": 5, "lot_id": lot_id}), 201)

    flow = eventually(
        lambda: next((f for f in flows(gw, lot_id=lot_id) if f["status"] == "stalled"), None),
        what="the stall",
    )
    assert f"MES material MAT-UNKNOWN-{t} is not in the cross-reference registry" in flow["last_error"]
    assert "/xref/v1/mappings" in flow["last_error"]
    assert gw.get(f"/erp/v1/lots/{lot_id}").status_code == 404
    assert gw.get(f"/erp/v1/items/MAT-UNKNOWN-{t}").status_code == 404
    mapped = ok(gw.get("/xref/v1/mappings", params={"system": "mes", "system_id": f"MAT-UNKNOWN-{t}"}))
    assert mapped["items"] == []


def test_a_rework_disposition_opens_one_rework_order(platform, gw) -> None:
    t = tag()
    product, lot_id = f"FG-{t}", f"LOT-{t}"
    item(gw, product, uom="KG")
    order_id = running_order(gw, product)
    ok(gw.post(f"/mes/v1/production-orders/{order_id}/batches", json={"quantity": 25, "lot_id": lot_id}), 201)
    eventually(lambda: completed(gw, "production_inspection", lot_id=lot_id), what="the receipt")
    il_id = decide(gw, lot_id, "rework")

    def rework_orders() -> list[dict[str, Any]]:
        params = {"order_type": "rework", "source_lot_id": lot_id}
        return list(ok(gw.get("/mes/v1/production-orders", params=params))["items"])

    orders = eventually(rework_orders, what="the rework order")
    assert len(orders) == 1
    rework = orders[0]
    assert (rework["item_id"], rework["planned_quantity"], rework["lot_id"]) == (product, 25.0, lot_id)
    assert (rework["site"], rework["quality_ref"], rework["status"]) == (PLANT, il_id, "planned")
    assert [op["work_centre"] for op in rework["operations"]] == ["RW-1"]
    assert batches(gw, lot_id)[0]["quality_status"] == "rework"
    assert balances(gw, lot_id) == {"BLOCKED": 25.0}

    before = eventually(lambda: settled(gw, lot_id=lot_id))
    replay(platform, "events.qms", "qms.usage_decision.made.v1", lot_id)
    assert eventually(lambda: settled(gw, lot_id=lot_id)) == before
    assert len(rework_orders()) == 1
    assert balances(gw, lot_id) == {"BLOCKED": 25.0}


# --- consumption posts stock -------------------------------------------------------------------
def test_mes_consumption_lowers_erp_stock_once(platform, gw) -> None:
    t = tag()
    bar = f"BAR-{t}"
    receipt = receive(gw, bar, 500, inspected=False)  # free stock: 500 kg of bar in WH1
    lot_id = receipt["lot_id"]
    assert balances(gw, lot_id) == {"UNRESTRICTED": 500.0}
    product = f"FG-{t}"
    item(gw, product, uom="KG")
    order_id = running_order(gw, product)
    consumed = {"item_id": bar, "lot_id": lot_id, "quantity": 120, "uom": "KG"}
    ok(gw.post(f"/mes/v1/production-orders/{order_id}/consumptions", json=consumed), 201)

    eventually(lambda: balances(gw, lot_id) == {"UNRESTRICTED": 380.0}, what="ERP stock lowered")
    issues = ok(gw.get("/erp/v1/inventory-transactions", params={"lot_id": lot_id, "type": "issue"}))["items"]
    assert [(i["quantity"], i["order_ref"]) for i in issues] == [(120.0, order_id)]

    before = eventually(lambda: settled(gw, order_id=order_id))
    replay(platform, "events.mes", "mes.material.consumed.v1", lot_id)
    replay(platform, "events.mes", "mes.material.consumed.v1", lot_id, new_id=True)
    assert eventually(lambda: settled(gw, order_id=order_id)) == before  # one consumption, one flow
    assert balances(gw, lot_id) == {"UNRESTRICTED": 380.0}


def test_consuming_held_stock_stalls_saying_so(platform, gw) -> None:
    t = tag()
    receipt = receive(gw, f"BAR-{t}", 50)  # inspection required: QUALITY_INSPECTION
    order_id = running_order(gw, f"BAR-{t}")
    consumed = {"item_id": f"BAR-{t}", "lot_id": receipt["lot_id"], "quantity": 10, "uom": "KG"}
    ok(gw.post(f"/mes/v1/production-orders/{order_id}/consumptions", json=consumed), 201)
    flow = eventually(
        lambda: next(
            (
                f
                for f in flows(gw, type="material_consumption", order_id=order_id)
                if f["status"] == "stalled"
            ),
            None,
        ),
        what="the stall",
    )
    assert "on quality hold in ERP: held material was consumed on the floor" in flow["last_error"]
    assert balances(gw, receipt["lot_id"]) == {"QUALITY_INSPECTION": 50.0}


# --- people are told -------------------------------------------------------------------------------
def test_procurement_gets_an_email_with_the_purchase_order(platform, gw, mailbox: Mailbox) -> None:
    receipt = receive(gw, f"RM-{tag()}", 60)
    lot_id, po_id = receipt["lot_id"], receipt["po_id"]
    decide(gw, lot_id, "block")

    mail = eventually(lambda: mailbox.containing(lot_id), what="the procurement email")
    assert len(mail) == 1
    assert sorted(mail[0].recipients) == sorted(BUYERS)
    assert po_id in mail[0].subject
    assert re.search(rf"Purchase order:\s+{po_id}", mail[0].body)
    assert receipt["supplier_id"] in mail[0].body

    notice_flow = eventually(lambda: completed(gw, "procurement_notice", lot_id=lot_id))
    replay(platform, "events.quality", "quality.procurement_notice.v1", lot_id)
    replay(platform, "events.quality", "quality.procurement_notice.v1", lot_id, new_id=False)
    assert eventually(lambda: settled(gw, type="procurement_notice", lot_id=lot_id)) == [
        (notice_flow["flow_id"], "completed")
    ]
    assert len(mailbox.containing(lot_id)) == 1


def test_a_down_smtp_server_is_retried_visibly_and_mails_once(platform, gw, mailbox: Mailbox) -> None:
    mailbox.stop()
    try:
        receipt = receive(gw, f"RM-{tag()}", 30)
        lot_id = receipt["lot_id"]
        decide(gw, lot_id, "return")
        waiting = eventually(
            lambda: next(
                (f for f in flows(gw, type="procurement_notice", lot_id=lot_id) if f["status"] == "waiting"),
                None,
            ),
            what="the notice waiting for SMTP",
        )
        assert waiting["attempts"] >= 1
        assert waiting["last_error"]
        timeline = ok(gw.get(f"/quality/v1/flows/{waiting['flow_id']}/timeline"))["entries"]
        assert any(e["kind"] == "step_failed" and e["step"] == "email_procurement" for e in timeline)
    finally:
        mailbox.start()
    eventually(lambda: completed(gw, "procurement_notice", lot_id=lot_id), what="the notice sent")
    assert len(mailbox.containing(lot_id)) == 1


def test_quality_leadership_hears_once_when_defects_cross_the_threshold(
    platform, gw, mailbox: Mailbox
) -> None:
    product = f"FG-{tag()}"
    item(gw, product)
    for n in range(4):
        nc = {"title": f"Burr on edge #{n}", "severity": "minor", "item_id": product, "reported_by": "line-3"}
        ok(gw.post("/qms/v1/nonconformances", json=nc), 201)
    eventually(lambda: len(settled(gw, type="defect_threshold", item_id=product)) == 4, what="4 checks")
    mail = mailbox.containing(product)
    assert len(mail) == 1, [m.subject for m in mail]  # the 3rd NC crossed it; the 4th is the same window
    assert mail[0].recipients == QUALITY_LEADS
    assert "defect threshold exceeded" in mail[0].subject
    assert mail[0].body.count("Burr on edge") >= 3  # those open when the crossing was counted


# --- reconciliation that repairs -----------------------------------------------------------------
def disagreements(gw: httpx.Client, lot_id: str) -> list[dict[str, Any]]:
    return list(ok(gw.get("/quality/v1/disagreements", params={"lot_id": lot_id}))["items"])


def test_a_lot_unblocked_behind_qms_back_is_found_and_reblocked(platform, gw, clerk) -> None:
    receipt = receive(gw, f"RM-{tag()}", 80)
    lot_id = receipt["lot_id"]
    decide(gw, lot_id, "block")
    eventually(lambda: completed(gw, "usage_decision", lot_id=lot_id), what="the block")
    assert balances(gw, lot_id) == {"BLOCKED": 80.0}
    # Someone in ERP releases the lot, QMS never hears of it.
    unblock_behind_qms_back(clerk, lot_id, 80)

    report = ok(gw.post("/quality/v1/reconciliation/runs"))  # the setting: report only
    assert (report["mode"], report["repairs_started"]) == ("report", [])
    [found] = disagreements(gw, lot_id)
    assert (found["kind"], found["status"], found["disposition"]) == ("hold-not-in-erp", "open", "block")
    assert found["disagreement_id"] in report["found"]
    assert balances(gw, lot_id) == {"UNRESTRICTED": 80.0}  # reported, not repaired

    repair = ok(gw.post("/quality/v1/reconciliation/runs", params={"mode": "repair"}))
    assert len(repair["repairs_started"]) == 1
    eventually(lambda: balances(gw, lot_id) == {"BLOCKED": 80.0}, what="the lot re-blocked")
    flow = eventually(lambda: completed(gw, "reconciliation_repair", lot_id=lot_id))
    assert flow["flow_id"] == repair["repairs_started"][0]
    eventually(lambda: disagreements(gw, lot_id)[0]["status"] == "repaired")

    confirm = ok(gw.post("/quality/v1/reconciliation/runs", params={"mode": "repair"}))
    assert confirm["repairs_started"] == []
    [resolved] = disagreements(gw, lot_id)
    assert resolved["status"] == "resolved"
    assert resolved["disagreement_id"] in confirm["resolved"]
    audit = ok(gw.get("/quality/v1/audit", params={"record_id": resolved["disagreement_id"]}))["items"]
    assert [(e["changes"]["status"]["after"], e["actor"]["client_id"]) for e in audit] == [
        ("open", "plant-integration"),  # found by the pass this client asked for
        ("repairing", "plant-integration"),
        ("repaired", "system"),  # the repair flow's last step
        ("resolved", "plant-integration"),
    ]
    moves = ok(gw.get("/erp/v1/inventory-transactions", params={"lot_id": lot_id}))["items"]
    assert [m["type"] for m in moves][-1] == "block"
    assert "reconciliation" in moves[-1]["reason"]


def test_a_lot_blocked_behind_qms_back_is_released_naming_the_decision(platform, gw) -> None:
    receipt = receive(gw, f"RM-{tag()}", 30)
    lot_id = receipt["lot_id"]
    il_id = decide(gw, lot_id, "release")
    eventually(lambda: completed(gw, "usage_decision", lot_id=lot_id), what="the release")
    move = {"type": "block", "lot_id": lot_id, "quantity": 30, "location": "WH1", "reason": "looked odd"}
    ok(gw.post("/erp/v1/inventory-transactions", json=move), 201)  # a hold needs no decision

    repair = ok(gw.post("/quality/v1/reconciliation/runs", params={"mode": "repair"}))
    [found] = disagreements(gw, lot_id)
    assert (found["kind"], found["disposition"]) == ("block-not-in-qms", "release")
    assert found["repair_flow_id"] in repair["repairs_started"]
    eventually(lambda: completed(gw, "reconciliation_repair", lot_id=lot_id), what="the repair")
    assert balances(gw, lot_id) == {"UNRESTRICTED": 30.0}
    # ERP let the stock out of BLOCKED because the repair named the decision that frees it.
    moves = ok(gw.get("/erp/v1/inventory-transactions", params={"lot_id": lot_id}))["items"]
    assert moves[-1]["type"] == "unblock"
    assert moves[-1]["quality_ref"] == {
        "kind": "usage_decision",
        "record_id": il_id,
        "disposition": "release",
    }


def test_the_console_shows_a_disagreement_and_repairs_it(platform, gw, clerk, secret: str) -> None:
    receipt = receive(gw, f"RM-{tag()}", 20)
    lot_id = receipt["lot_id"]
    decide(gw, lot_id, "rework")  # purchased: blocked, NC with disposition rework
    eventually(lambda: completed(gw, "usage_decision", lot_id=lot_id), what="the block")
    unblock_behind_qms_back(clerk, lot_id, 20)
    ok(gw.post("/quality/v1/reconciliation/runs"))
    [found] = disagreements(gw, lot_id)
    assert found["kind"] == "hold-not-in-erp"  # the rework NC does not explain free stock

    console = f"{platform.services['operations'].url}/operations/console"
    with httpx.Client(base_url=console, timeout=20, follow_redirects=True) as browser:
        login = browser.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf
        form = {"client_id": "plant-integration", "client_secret": secret, "csrf": csrf.group(1)}
        assert browser.post("/login", data=form).status_code == 200
        page = browser.get("/disagreements")
        assert page.status_code == 200, page.text
        row = page.text[page.text.index(f'data-record="{found["disagreement_id"]}"') :]
        row = row[: row.index("</tr>")]
        assert lot_id in row
        assert "Repair</button>" in row
        assert f"/operations/console/audit?record_id={found['disagreement_id']}" in row
        version = re.search(r'name="version" value="(\d+)"', row)
        csrf = re.search(r'name="csrf" value="([^"]+)"', row)
        assert version
        assert csrf
        done = browser.post(
            f"/disagreements/{found['disagreement_id']}/repair",
            data={"csrf": csrf.group(1), "version": version.group(1)},
        )
        assert done.status_code == 200
        assert "Repair started." in done.text
        eventually(lambda: balances(gw, lot_id) == {"BLOCKED": 20.0}, what="the lot re-blocked")
        history = browser.get("/audit", params={"record_id": found["disagreement_id"]})
        assert "repairing" in history.text
        assert "plant-integration" in history.text
