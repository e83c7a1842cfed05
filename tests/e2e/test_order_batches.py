"""The batches of one production order, which MES completes into one output lot: each is received
into ERP quality-inspection stock and inspected, and a usage decision moves exactly the stock it
covered. In process (the fast lane): ERP, QMS, MES, the registry and the quality process over real
SQLite files, events over a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from plantbridge.processes import RedisServer
from tests.support.fixtures import DatabaseUrl, Serve
from tests.support.http import client, ok
from tests.support.inprocess import Apps, outbound_to
from tests.support.wait import eventually

SYSTEMS = ("erp", "qms", "mes", "xref")
# A concession on a lot made here waits for a second person: the window in which a decided lot's
# stock is not yet posted, however long it lasts.
RULES = """
[[approvals]]
dispositions = ["use_as_is"]
origins = ["production"]
"""


@pytest.fixture(scope="module")
def apps(
    in_process: Serve, database_url: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Apps]:
    # A Redis of its own: the quality processes other modules launched on the shared one may
    # still be running, and would take these events in the same consumer group.
    redis = RedisServer(tmp_path_factory.mktemp("batches_redis")).start()
    served = Apps()
    for name in SYSTEMS:
        served.services[name] = in_process(
            name, database_url=database_url("sqlite", f"batches_{name}"), redis_url=redis.url
        )
    rules = tmp_path_factory.mktemp("batches_rules") / "quality.toml"
    rules.write_text(RULES)
    served.services["quality"] = in_process(
        "quality",
        database_url=database_url("sqlite", "batches_quality"),
        outbound=outbound_to("quality", dict(served.services)),
        rules_file=str(rules),
        redis_url=redis.url,
    )
    yield served
    served.stop()
    redis.stop()


def http(apps: Apps, name: str) -> Any:
    return client(apps.services[name], scopes=[f"{name}:read", f"{name}:write"])


class Order:
    """A running production order and what the plant sees of its lot."""

    def __init__(self, apps: Apps) -> None:
        self.erp, self.qms, self.mes, self.quality = (http(apps, n) for n in ("erp", "qms", "mes", "quality"))
        tag = uuid.uuid4().hex[:6].upper()
        self.item, self.lot_id = f"FG-{tag}", f"LOT-{tag}"
        item = {"item_id": self.item, "description": self.item, "item_type": "finished_good"}
        ok(self.erp.post("/erp/v1/items", json=item), 201)
        order = {
            "order_id": f"MO-{tag}",
            "item_id": self.item,
            "planned_quantity": 200,
            "site": "P1",
            "operations": [{"op_no": 10, "work_centre": "WC-1"}],
        }
        self.order_id = ok(self.mes.post("/mes/v1/production-orders", json=order), 201)["order_id"]
        for action in ("release", "start"):
            ok(self.mes.post(f"/mes/v1/production-orders/{self.order_id}/{action}"))

    def complete_batch(self, quantity: float) -> str:
        """Complete a batch and wait until its flow is done (the step results are returned)."""
        path = f"/mes/v1/production-orders/{self.order_id}/batches"
        before = len(self.flows())
        batch_id = ok(self.mes.post(path, json={"quantity": quantity, "lot_id": self.lot_id}), 201)[
            "batch_id"
        ]

        def settled() -> list[dict[str, Any]] | None:
            found = self.flows()
            busy = any(f["status"] in ("running", "waiting") for f in found)
            return found if len(found) > before and not busy else None

        found = eventually(settled, what=f"the flow of batch {batch_id}")
        assert all(f["status"] == "completed" for f in found), [(f["status"], f["last_error"]) for f in found]
        return str(batch_id)

    def flows(self, flow_type: str = "production_inspection") -> list[dict[str, Any]]:
        params = {"lot_id": self.lot_id, "type": flow_type, "limit": 50}
        return list(ok(self.quality.get("/quality/v1/flows", params=params))["items"])

    def inspections(self) -> list[dict[str, Any]]:
        found = ok(self.qms.get("/qms/v1/inspection-lots", params={"lot_id": self.lot_id}))["items"]
        return sorted(found, key=lambda il: il["created_at"])

    def decide(self, il_id: str, disposition: str) -> None:
        ok(self.qms.post(f"/qms/v1/inspection-lots/{il_id}/start", json={}))
        passed = disposition == "release"
        results = {
            "results": [{"characteristic": "VISUAL", "conforming": passed}],
            "recorded_by": "inspector-1",
        }
        ok(self.qms.post(f"/qms/v1/inspection-lots/{il_id}/results", json=results))
        decision = {"code": "A1" if passed else "R1", "disposition": disposition, "decided_by": "qa.lead"}
        ok(self.qms.post(f"/qms/v1/inspection-lots/{il_id}/usage-decision", json=decision))
        eventually(
            lambda: self.qms.get(f"/qms/v1/inspection-lots/{il_id}").json()["status"] == "stock_posted",
            what=f"the stock of {il_id} posted",
        )

    def balances(self) -> dict[str, float]:
        lot = ok(self.erp.get(f"/erp/v1/lots/{self.lot_id}"))
        return {b["status"]: b["quantity"] for b in lot["balances"] if b["quantity"]}

    def batch_status(self) -> dict[str, str]:
        found = ok(self.mes.get("/mes/v1/batches", params={"lot_id": self.lot_id}))["items"]
        return {b["batch_id"]: b["quality_status"] for b in found}


def test_a_later_batch_joins_the_open_inspection_of_its_lot_and_is_decided_with_it(apps: Apps) -> None:
    order = Order(apps)
    first = order.complete_batch(40)
    second = order.complete_batch(60)  # stalled on 409 inspection-lot-exists before

    [il] = order.inspections()
    assert (il["origin"], il["source_ref"], il["status"]) == ("production", order.order_id, "created")
    results = {f["flow_id"]: f["steps"][-1]["result"] for f in order.flows()}
    assert sorted(r["inspection_lot_id"] for r in results.values()) == [il["inspection_lot_id"]] * 2
    assert order.balances() == {"QUALITY_INSPECTION": 100.0}

    order.decide(il["inspection_lot_id"], "release")
    assert order.balances() == {"UNRESTRICTED": 100.0}
    posted = ok(order.qms.get(f"/qms/v1/inspection-lots/{il['inspection_lot_id']}"))
    assert posted["stock_posted_quantity"] == 100.0
    eventually(lambda: order.batch_status() == {first: "released", second: "released"}, what="MES released")


def test_a_batch_after_the_decision_gets_its_own_inspection_which_alone_moves_it(apps: Apps) -> None:
    order = Order(apps)
    first = order.complete_batch(40)
    [lot_inspection] = order.inspections()
    order.decide(lot_inspection["inspection_lot_id"], "release")
    eventually(lambda: order.batch_status() == {first: "released"}, what="MES released")

    late = order.complete_batch(25)
    assert order.balances() == {"UNRESTRICTED": 40.0, "QUALITY_INSPECTION": 25.0}
    own = order.inspections()[-1]
    assert (own["source_ref"], own["status"]) == (late, "created")
    order.decide(own["inspection_lot_id"], "block")

    # The block covers the late batch only: the released 40 stay free, and so does MES's word on them.
    assert order.balances() == {"UNRESTRICTED": 40.0, "BLOCKED": 25.0}
    eventually(
        lambda: order.batch_status() == {first: "released", late: "quarantined"}, what="MES quarantined"
    )


def test_a_batch_arriving_while_the_decision_awaits_approval_is_not_moved_by_it(apps: Apps) -> None:
    """The lot's decision is made before the batch arrives, its stock posted after (a second
    person approves it): the late batch waits in quality inspection for its own decision."""
    order = Order(apps)
    first = order.complete_batch(30)
    [lot_inspection] = order.inspections()
    il_id = lot_inspection["inspection_lot_id"]
    ok(order.qms.post(f"/qms/v1/inspection-lots/{il_id}/start", json={}))
    results = {"results": [{"characteristic": "VISUAL", "conforming": False}], "recorded_by": "inspector-1"}
    ok(order.qms.post(f"/qms/v1/inspection-lots/{il_id}/results", json=results))
    decision = {"code": "D1", "disposition": "use_as_is", "decided_by": "insp.kim"}
    ok(order.qms.post(f"/qms/v1/inspection-lots/{il_id}/usage-decision", json=decision))
    waiting = eventually(
        lambda: [f for f in order.flows("usage_decision") if f["status"] == "awaiting_approval"],
        what="the decision awaiting approval",
    )

    late = order.complete_batch(20)
    own = order.inspections()[-1]
    assert (own["source_ref"], own["status"]) == (late, "created")
    assert order.balances() == {"QUALITY_INSPECTION": 50.0}

    approval = waiting[0]["approval"]["approval_id"]
    lead = client(apps.services["quality"], scopes=["quality:read", "quality:approve"], client_id="qa-lead")
    ok(lead.post(f"/quality/v1/approvals/{approval}/approve", json={"comment": "deviation accepted"}))
    eventually(lambda: ok(order.qms.get(f"/qms/v1/inspection-lots/{il_id}"))["status"] == "stock_posted")
    # The approved concession covers the 30 it was decided on; the late 20 wait for their own.
    assert order.balances() == {"UNRESTRICTED": 30.0, "QUALITY_INSPECTION": 20.0}
    assert ok(order.qms.get(f"/qms/v1/inspection-lots/{il_id}"))["stock_posted_quantity"] == 30.0
    eventually(lambda: order.batch_status() == {first: "released", late: "pending"}, what="MES released")

    order.decide(own["inspection_lot_id"], "release")
    assert order.balances() == {"UNRESTRICTED": 50.0}
    eventually(lambda: order.batch_status() == {first: "released", late: "released"}, what="MES released")
