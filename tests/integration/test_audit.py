"""The audit trail of ERP and QMS, served in process on real SQLite and real PostgreSQL.

Every state change is recorded once, in the same transaction, with who, when, what and why;
what is refused or replayed records nothing; entries are read per record or per correlation id
and can be neither changed nor deleted, through the API or in the database.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from tests.support.db import count, rows
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, Body, api_in_process, client, ok, unique

SCOPES = {"erp": ["erp:read", "erp:write", "erp:release"], "qms": ["qms:read", "qms:write"]}
RELEASED = {"kind": "usage_decision", "record_id": "IL-1", "disposition": "release"}
WHO = {"person_id": "P-1042", "supplier_id": "SUP-AUDIT"}


@dataclass
class Systems:
    erp: Api
    qms: Api


@pytest.fixture(scope="module", params=BACKENDS)
def systems(
    request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl
) -> Iterator[Systems]:
    with contextlib.ExitStack() as stack:
        apis = {
            name: stack.enter_context(
                api_in_process(
                    in_process,
                    name,
                    database_url(request.param, f"audit_{name}_{request.param}"),
                    scopes=SCOPES[name],
                    claims=WHO,
                    client_id="audit-tester",
                )
            )
            for name in ("erp", "qms")
        }
        yield Systems(**apis)


def audit(http: httpx.Client, api: str, **params: str) -> list[Body]:
    """Every entry matching the filters, following next_cursor with small pages."""
    found: list[Body] = []
    query: dict[str, str | int] = {**params, "limit": 2}
    while True:
        page = ok(http.get(f"{api}/audit", params=query))
        found.extend(page["items"])
        if not page["next_cursor"]:
            return found
        query["cursor"] = page["next_cursor"]


def changes(entry: Body) -> dict[str, tuple[Any, Any]]:
    return {k: (v["before"], v["after"]) for k, v in entry["changes"].items()}


def make_item(erp: httpx.Client, **headers: str) -> str:
    item = unique("RM")
    body = {"item_id": item, "description": "Steel bar", "inspection_required": True}
    ok(erp.post("/erp/v1/items", json=body, headers=headers), 201)
    return item


def test_a_change_records_who_when_what_and_why(systems: Systems) -> None:
    erp = systems.erp.http
    item = make_item(erp)
    before = datetime.now(UTC)
    # The flow and the causing event are believed only from platform clients (this one is not):
    # tests/hardening/test_platform_headers.py.
    why = {
        "X-Correlation-ID": unique("corr"),
        "X-Flow-ID": unique("FLOW"),
        "X-Causation-ID": str(uuid.uuid4()),
    }
    changed = erp.patch(f"/erp/v1/items/{item}", json={"description": "Steel bar, 42CrMo4"}, headers=why)
    ok(changed)

    created, updated = audit(erp, "/erp/v1", record_id=item)
    assert (created["record_type"], created["action"], created["version"]) == ("items", "created", 1)
    assert changes(created)["description"] == (None, "Steel bar")
    assert (updated["record_type"], updated["record_id"], updated["action"]) == ("items", item, "updated")
    assert changes(updated) == {"description": ("Steel bar", "Steel bar, 42CrMo4")}  # changed fields only
    assert updated["version"] == changed.json()["version"] == 2
    assert updated["actor"] == {"client_id": "audit-tester", **WHO, "via": None}  # called directly
    assert (updated["correlation_id"], updated["flow_id"], updated["causation_id"]) == (
        why["X-Correlation-ID"],
        None,
        None,
    )
    assert before <= datetime.fromisoformat(updated["at"]) <= datetime.now(UTC)
    assert created["audit_id"] != updated["audit_id"]


def test_one_request_is_one_entry_per_record_with_child_rows_folded_in(systems: Systems) -> None:
    erp = systems.erp.http
    item = make_item(erp)
    supplier = unique("SUP")
    ok(erp.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"}), 201)
    po = ok(
        erp.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": 100}]},
        ),
        201,
    )
    corr = unique("corr-receipt")
    receipt = ok(
        erp.post(
            "/erp/v1/goods-receipts",
            json={"po_id": po["po_id"], "quantity": 40, "location": "WH1"},
            headers={"X-Correlation-ID": corr},
        ),
        201,
    )
    lot_id = receipt["lot_id"]
    by_record = {(e["record_type"], e["record_id"]): e for e in audit(erp, "/erp/v1", correlation_id=corr)}
    assert len(by_record) == len(audit(erp, "/erp/v1", correlation_id=corr))  # once per record
    assert by_record[("goods_receipts", receipt["receipt_id"])]["action"] == "created"
    lot = by_record[("lots", lot_id)]
    assert lot["action"] == "created"
    assert changes(lot)["balances[WH1/QUALITY_INSPECTION].quantity"] == (None, 40.0)
    po_entry = by_record[("purchase_orders", po["po_id"])]
    assert po_entry["action"] == "updated"
    assert changes(po_entry)["lines[1].received_quantity"] == (0.0, 40.0)
    assert changes(po_entry)["status"] == ("open", "partially_received")
    assert {e["correlation_id"] for e in by_record.values()} == {corr}

    corr_release = unique("corr-release")
    ok(
        erp.post(
            "/erp/v1/inventory-transactions",
            json={
                "type": "release",
                "lot_id": lot_id,
                "quantity": 40,
                "location": "WH1",
                "quality_ref": RELEASED,
            },
            headers={"X-Correlation-ID": corr_release},
        ),
        201,
    )
    history = audit(erp, "/erp/v1", record_type="lots", record_id=lot_id)
    assert [e["action"] for e in history] == ["created", "updated"]
    moved = changes(history[1])
    assert moved["balances[WH1/QUALITY_INSPECTION].quantity"] == (40.0, 0.0)
    assert moved["balances[WH1/UNRESTRICTED].quantity"] == (None, 40.0)
    assert history[1]["correlation_id"] == corr_release
    assert history[1]["version"] == ok(erp.get(f"/erp/v1/lots/{lot_id}"))["version"]


async def test_a_refused_request_records_nothing(systems: Systems) -> None:
    erp = systems.erp.http
    item = make_item(erp)
    before = await count(systems.erp.database_url, "kit_audit")
    corr = unique("corr-refused")
    headers = {"X-Correlation-ID": corr}
    unknown_field = erp.patch(f"/erp/v1/items/{item}", json={"colour": "red"}, headers=headers)
    assert unknown_field.status_code == 400, unknown_field.text
    stale = erp.patch(
        f"/erp/v1/items/{item}", json={"description": "x"}, headers={**headers, "If-Match": '"7"'}
    )
    assert stale.status_code == 412, stale.text
    duplicate = erp.post("/erp/v1/items", json={"item_id": item, "description": "again"}, headers=headers)
    assert duplicate.status_code == 409, duplicate.text
    no_such_lot = erp.post(
        "/erp/v1/inventory-transactions",
        json={
            "type": "release",
            "lot_id": unique("LOT"),
            "quantity": 1,
            "location": "WH1",
            "quality_ref": RELEASED,
        },
        headers=headers,
    )
    assert no_such_lot.status_code in (404, 422), no_such_lot.text
    assert audit(erp, "/erp/v1", correlation_id=corr) == []
    assert await count(systems.erp.database_url, "kit_audit") == before


async def test_an_idempotent_replay_records_nothing_new(systems: Systems) -> None:
    erp = systems.erp.http
    key = unique("key")
    body = {"item_id": unique("RM"), "description": "Bolt M8"}
    first = erp.post("/erp/v1/items", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    before = await count(systems.erp.database_url, "kit_audit")
    corr = unique("corr-replay")
    replay = erp.post("/erp/v1/items", json=body, headers={"Idempotency-Key": key, "X-Correlation-ID": corr})
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert await count(systems.erp.database_url, "kit_audit") == before
    assert audit(erp, "/erp/v1", correlation_id=corr) == []
    assert [e["action"] for e in audit(erp, "/erp/v1", record_id=body["item_id"])] == ["created"]


def test_qms_records_its_state_changes_on_every_api_version(systems: Systems) -> None:
    qms = systems.qms.http
    corr = unique("corr-qms")
    body = {
        "origin": "goods_receipt",
        "source_ref": unique("GR"),
        "item_id": "RM-STEEL-BAR",
        "lot_id": unique("LOT"),
        "supplier_id": "SUP-ACME",
        "sample_size": 5,
        "characteristics": [{"code": "VIS", "kind": "attribute", "description": "Visual"}],
    }
    lot = ok(qms.post("/qms/v1/inspection-lots", json=body, headers={"X-Correlation-ID": corr}), 201)
    lot_id = lot["inspection_lot_id"]
    headers = {"X-Correlation-ID": corr}
    ok(qms.post(f"/qms/v1/inspection-lots/{lot_id}/start", json={"by": "inspector"}, headers=headers))
    ok(
        qms.post(
            f"/qms/v1/inspection-lots/{lot_id}/results",
            json={"results": [{"characteristic": "VIS", "conforming": False}], "recorded_by": "inspector"},
            headers=headers,
        )
    )
    for api in ("/qms/v1", "/qms/v2"):  # the one trail, readable through each major version
        history = audit(qms, api, record_type="inspection_lots", record_id=lot_id)
        assert [e["action"] for e in history] == ["created", "updated", "updated"]
        assert changes(history[1])["status"] == ("created", "in_inspection")
        assert changes(history[2])["status"] == ("in_inspection", "results_recorded")
        assert any(k.startswith("results[") for k in history[2]["changes"]), history[2]["changes"]
        assert {e["correlation_id"] for e in history} == {corr}
        by_correlation = audit(qms, api, correlation_id=corr)
        assert [e["audit_id"] for e in by_correlation] == [e["audit_id"] for e in history]


def test_the_audit_trail_has_no_write_method(systems: Systems) -> None:
    erp = systems.erp.http
    entry = audit(erp, "/erp/v1")[0]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/erp/v1/audit", f"/erp/v1/audit/{entry['audit_id']}"):
            response = erp.request(method, path, json={})
            assert response.status_code in (404, 405), (method, path, response.status_code)
        response = erp.request(method, "/erp/v1/audit", json={})
        assert response.status_code == 405
        assert response.headers["content-type"].startswith("application/problem+json")
    assert audit(erp, "/erp/v1", record_id=entry["record_id"])[0] == entry
    # A 405 names the methods the path has as its OPTIONS answer does (sorted, the same every start).
    refused = erp.request("PUT", "/erp/v1/items", json={})
    assert refused.status_code == 405
    assert refused.headers["allow"] == erp.options("/erp/v1/items").headers["allow"] == "GET, OPTIONS, POST"


def test_bad_queries_are_problems_and_reading_needs_the_read_scope(systems: Systems) -> None:
    erp = systems.erp.http
    for params in (
        {"record_id": "a/b"},
        {"record_id": "x" * 65},
        {"correlation_id": "no spaces"},
        {"record_type": "Lots;drop"},
        {"limit": "0"},
    ):
        response = erp.get("/erp/v1/audit", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    # Not one this API issued; one of the right shape whose number no database integer holds.
    too_far = base64.urlsafe_b64encode(b"[123456789012345678901234567890]").decode()
    for cursor in ("not-a-cursor", too_far):
        bad_cursor = erp.get("/erp/v1/audit", params={"cursor": cursor})
        assert bad_cursor.status_code == 422, bad_cursor.text
        assert bad_cursor.json()["type"] == "urn:plantbridge:problem:invalid-cursor"
    with client(systems.erp.service, scopes=["erp:write"]) as writer:
        assert writer.get("/erp/v1/audit").status_code == 403
    with client(systems.erp.service) as anonymous:
        assert anonymous.get("/erp/v1/audit").status_code == 401


async def test_the_database_refuses_to_change_or_delete_entries(systems: Systems) -> None:
    for service in (systems.erp, systems.qms):
        before = await rows(service.database_url, "SELECT audit_id, action FROM kit_audit ORDER BY seq")
        assert before
        for sql in (
            "UPDATE kit_audit SET action = 'deleted'",
            "DELETE FROM kit_audit",
            "UPDATE kit_audit SET changes = '{}' WHERE seq = (SELECT min(seq) FROM kit_audit)",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                await rows(service.database_url, sql)
        after = await rows(service.database_url, "SELECT audit_id, action FROM kit_audit ORDER BY seq")
        assert after == before
