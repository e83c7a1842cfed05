"""MES learns quality (issue 20): batches carry a quality status the quality process sets, and
rework orders name the lot they rework. The MES API in process (its whole ASGI stack, as
test_mes_api.py runs it), on real SQLite and PostgreSQL."""

from __future__ import annotations

from tests.integration.test_mes_api import API, mes, running_order  # noqa: F401 (the fixture)
from tests.support.db import events
from tests.support.http import Api, ok, problem, unique


def new_batch(m: Api) -> dict[str, object]:
    order = running_order(m.http)
    path = f"{API}/production-orders/{order['order_id']}/batches"
    return ok(m.http.post(path, json={"quantity": 10, "lot_id": unique("LOT")}), 201)


async def test_a_batch_starts_pending_and_follows_what_quality_decides(mes: Api) -> None:  # noqa: F811
    batch = new_batch(mes)
    assert batch["quality_status"] == "pending"
    path = f"{API}/batches/{batch['batch_id']}/quality-status"
    change = {"status": "quarantined", "reason": "usage decision block", "quality_ref": "IL-1"}
    held = ok(mes.http.post(path, json=change))
    assert (held["quality_status"], held["quality_ref"], held["version"]) == ("quarantined", "IL-1", 2)
    same = ok(mes.http.post(path, json=change))  # a repeated decision changes nothing
    assert same["version"] == 2
    released = ok(mes.http.post(path, json={"status": "released", "quality_ref": "NC-9"}))
    assert released["quality_status"] == "released"
    assert ok(mes.http.get(f"{API}/batches/{batch['batch_id']}"))["quality_ref"] == "NC-9"
    listed = ok(
        mes.http.get(f"{API}/batches", params={"quality_status": "released", "lot_id": batch["lot_id"]})
    )
    assert [b["batch_id"] for b in listed["items"]] == [batch["batch_id"]]
    changes = [
        (d["from_status"], d["to_status"], d["quality_ref"])
        for kind, d in await events(mes.database_url, str(batch["batch_id"]))
        if kind == "mes.batch.quality_status_changed.v1"
    ]
    assert changes == [("pending", "quarantined", "IL-1"), ("quarantined", "released", "NC-9")]


async def test_a_scrapped_batch_cannot_change_and_bad_input_changes_nothing(mes: Api) -> None:  # noqa: F811
    batch = new_batch(mes)
    path = f"{API}/batches/{batch['batch_id']}/quality-status"
    ok(mes.http.post(path, json={"status": "scrapped"}))
    body = problem(mes.http.post(path, json={"status": "released"}), 409, "illegal-transition")
    assert body["current_state"] == "scrapped"
    unknown = mes.http.post(f"{API}/batches/BAT-NOPE/quality-status", json={"status": "released"})
    problem(unknown, 404, "batch-not-found")
    assert mes.http.post(path, json={"status": "fine"}).status_code == 400
    problem(
        mes.http.post(path, json={"status": "scrapped"}, headers={"If-Match": '"1"'}),
        412,
        "stale-version",
    )
    assert ok(mes.http.get(f"{API}/batches/{batch['batch_id']}"))["quality_status"] == "scrapped"


async def test_a_rework_order_names_the_lot_it_reworks(mes: Api) -> None:  # noqa: F811
    body = {
        "item_id": "FG-HOUSING-7",
        "planned_quantity": 25,
        "site": "PLANT-1",
        "operations": [{"op_no": 10, "work_centre": "REWORK"}],
    }
    lot_id = unique("LOT")
    problem(
        mes.http.post(f"{API}/production-orders", json=body | {"order_type": "rework"}),
        422,
        "rework-lot-required",
    )
    problem(
        mes.http.post(f"{API}/production-orders", json=body | {"source_lot_id": lot_id}),
        422,
        "rework-lot-required",
    )
    rework = body | {"order_type": "rework", "source_lot_id": lot_id, "lot_id": lot_id, "quality_ref": "IL-7"}
    order = ok(mes.http.post(f"{API}/production-orders", json=rework), 201)
    assert (order["order_type"], order["source_lot_id"], order["quality_ref"]) == ("rework", lot_id, "IL-7")
    found = ok(
        mes.http.get(f"{API}/production-orders", params={"order_type": "rework", "source_lot_id": lot_id})
    )
    assert [o["order_id"] for o in found["items"]] == [order["order_id"]]
    assert ok(mes.http.post(f"{API}/production-orders", json=body), 201)["order_type"] == "standard"
