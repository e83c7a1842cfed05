"""What Tryton once got wrong where the embedded tables did not, against both systems of record with
the service's own database on PostgreSQL (advisory locks, not SQLite's one connection, keep
concurrent commands apart): concurrent return settlements, one lot number on two items, an item's
version after a change, and a create retried after its answer was lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.kit.db import Database
from system_apis.erp.backends.embedded import EmbeddedErp
from system_apis.erp.backends.tryton.backend import TrytonErp
from system_apis.erp.backends.tryton.connection import ErpUnavailable
from system_apis.erp.port import ErpBackend
from tests.erp_tryton.test_erp_api_backends import SCOPES, Erp, balances
from tests.erp_tryton.test_holds_backends import (
    invoice,
    received_lot,
    release,
    returned_to_vendor,
)
from tests.integration.test_erp_api import make_po, problem, unique
from tests.support.fixtures import DatabaseUrl, Serve
from tests.support.http import client
from tests.support.tryton import Rpc, erp_settings


@pytest.fixture(scope="module", params=["embedded", pytest.param("tryton", marks=pytest.mark.e2e)])
def erp(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Erp]:
    url = database_url("postgres", f"erp_records_{request.param}")
    server = request.getfixturevalue("make_tryton")() if request.param == "tryton" else None
    service = in_process("erp", database_url=url, **(erp_settings(server) if server else {}))
    with client(service, scopes=SCOPES, timeout=120) as http:
        yield Erp(request.param, url, http, server)
    service.stop()


def at_once(count: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def test_concurrent_settlements_of_one_return_post_one_credit_note(erp: Erp) -> None:
    billed = received_lot(erp.http)
    assert invoice(erp.http, billed).status_code == 201
    txn_id = returned_to_vendor(erp.http, billed["lot_id"])
    answers = at_once(
        3,
        lambda i: erp.http.post(
            "/erp/v1/return-settlements", json={"txn_id": txn_id, "reason": f"reason {i}"}
        ),
    )
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert len({a.json()["credit_note_id"] for a in answers}) == 1
    listed = erp.http.get("/erp/v1/supplier-invoices", params={"po_id": billed["po_id"]}).json()["items"]
    assert sorted(i["kind"] for i in listed) == ["credit_note", "invoice"], listed


def test_one_lot_number_received_for_two_items_at_once_is_one_lot_of_one_item(erp: Erp) -> None:
    orders = [make_po(erp.http)[0] for _ in range(2)]
    lot_id = unique("LOT")

    def receive(i: int) -> httpx.Response:
        body: dict[str, Any] = {"po_id": orders[i], "quantity": 40, "lot_id": lot_id, "location": "WH1"}
        return erp.http.post("/erp/v1/goods-receipts", json=body)

    answers = at_once(2, receive)
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    [kept] = [a.json() for a in answers if a.status_code == 201]
    lot = erp.http.get(f"/erp/v1/lots/{lot_id}").json()
    assert (lot["item_id"], sum(b["quantity"] for b in lot["balances"])) == (kept["item_id"], 40.0)


def changed_since(http: httpx.Client, path: str, since: str) -> list[dict[str, Any]]:
    """Every record of the list changed after `since`, read page by page."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"updated_since": since, "limit": 100}
    while True:
        body = http.get(path, params=params).json()
        found += body["items"]
        if not body.get("next_cursor"):
            return found
        params["cursor"] = body["next_cursor"]


def test_a_change_to_an_item_changes_its_version_and_is_listed_as_changed(erp: Erp) -> None:
    item = unique("RM")
    made = erp.http.post("/erp/v1/items", json={"item_id": item, "description": "Bar"})
    assert made.status_code == 201, made.text
    etag = erp.http.get(f"/erp/v1/items/{item}").headers["etag"]
    path = f"/erp/v1/items/{item}"
    changed = erp.http.patch(path, json={"inspection_required": True}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != etag
    assert changed.json()["updated_at"] > made.json()["updated_at"]
    stale = erp.http.patch(path, json={"description": "Rod"}, headers={"If-Match": etag})
    problem(stale, 412, "stale-version")
    assert erp.http.get(path).json()["description"] == "Bar"
    listed = changed_since(erp.http, "/erp/v1/items", made.json()["created_at"])
    assert item in [i["item_id"] for i in listed]


def backend_class(erp: Erp) -> type[ErpBackend]:
    return TrytonErp if erp.backend == "tryton" else EmbeddedErp


CREATES = [
    ("create_item", "/erp/v1/items", "item_id", {"description": "Bar"}, "item-exists"),
    ("create_supplier", "/erp/v1/suppliers", "supplier_id", {"name": "Acme"}, "supplier-exists"),
]


@pytest.mark.parametrize(("method", "path", "id_field", "body", "exists"), CREATES)
def test_a_create_retried_after_its_answer_was_lost_is_201_and_a_concurrent_one_409(
    erp: Erp,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    id_field: str,
    body: dict[str, Any],
    exists: str,
) -> None:
    cls = backend_class(erp)
    create = getattr(cls, method)
    lost: list[str] = []

    async def answer_lost_once(self: ErpBackend, *args: Any) -> Any:
        """The system of record does the create, then the answer is lost (a 503) the first time."""
        made = await create(self, *args)
        if not lost:
            lost.append(method)
            raise ErpUnavailable("the answer was lost")
        return made

    monkeypatch.setattr(cls, method, answer_lost_once)
    record = {id_field: unique("REC"), **body}
    key = {"Idempotency-Key": unique("create")}
    problem(erp.http.post(path, json=record, headers=key), 503, "erp-unavailable")
    retried = erp.http.post(path, json=record, headers=key)
    assert retried.status_code == 201, retried.text
    assert retried.json()[id_field] == record[id_field]
    problem(erp.http.post(path, json=record, headers={"Idempotency-Key": unique("other")}), 409, exists)

    again = {id_field: unique("REC"), **body}
    answers = at_once(3, lambda _: erp.http.post(path, json=again))
    assert sorted(a.status_code for a in answers) == [201, 409, 409], [a.text for a in answers]
    # Tryton's connector finds the first one's record; the embedded tables on PostgreSQL meet their
    # unique key instead (a plain conflict), so only Tryton's answer is pinned to `exists`.
    slugs = {a.json()["type"].rsplit(":", 1)[1] for a in answers if a.status_code == 409}
    allowed = {exists} if erp.backend == "tryton" else {exists, "conflict"}
    assert slugs <= allowed, slugs  # (the two 409s are asserted above)


def test_a_suppliers_email_changed_in_tryton_changes_the_supplier(erp: Erp) -> None:
    if erp.tryton is None:
        pytest.skip("a change made in Tryton itself")
    supplier = unique("SUP")
    body = {"supplier_id": supplier, "name": "Acme", "email": "sales@acme.example"}
    made = erp.http.post("/erp/v1/suppliers", json=body)
    assert made.status_code == 201, made.text
    path = f"/erp/v1/suppliers/{supplier}"
    before = erp.http.get(path)
    rpc = Rpc(erp.tryton, "admin", "admin")
    try:  # the plant edits the email as a record of its own, not through the party
        [mechanism] = rpc("party.contact_mechanism", "search", [("party.code", "=", supplier)], 0, 1, None)
        rpc("party.contact_mechanism", "write", [mechanism], {"value": "orders@acme.example"})
    finally:
        rpc.close()
    after = erp.http.get(path)
    assert after.json()["email"] == "orders@acme.example"
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["updated_at"] > before.json()["updated_at"]
    listed = changed_since(erp.http, "/erp/v1/suppliers", before.json()["updated_at"])
    assert supplier in [s["supplier_id"] for s in listed]


def test_deliveries_naming_the_same_lots_in_other_orders_never_deadlock(erp: Erp) -> None:
    """Each delivery holds its lots before it moves any, in one order: two naming lots X, Y and
    Y, X at once would otherwise each hold one and wait for the other (PostgreSQL then aborts one)."""
    lots = [received_lot(erp.http, quantity=40)["lot_id"] for _ in range(2)]
    for lot_id in lots:
        release(erp.http, lot_id)
    customer = unique("CUS")
    erp.http.post("/erp/v1/suppliers", json={"supplier_id": customer, "name": "Buyer"})

    def deliver(i: int) -> httpx.Response:
        ordered = lots if i % 2 == 0 else lots[::-1]
        lines = [{"lot_id": lot_id, "quantity": 1, "location": "WH1"} for lot_id in ordered]
        return erp.http.post("/erp/v1/deliveries", json={"customer_id": customer, "lines": lines})

    answers = [answer for _ in range(4) for answer in at_once(2, deliver)]
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers if a.status_code != 201]
    for lot_id in lots:
        assert balances(erp.http, lot_id) == [{"location": "WH1", "status": "UNRESTRICTED", "quantity": 32.0}]


async def test_a_request_postgresql_ends_to_break_a_deadlock_is_a_503_that_changed_nothing(erp: Erp) -> None:
    """Another transaction (here the test's) holds the second lot a delivery needs and then waits
    for the first, which the delivery holds: PostgreSQL ends the delivery, which waited first. The
    client gets a 503 with Retry-After, not a 500, and the same request again is served."""
    lots = sorted(received_lot(erp.http)["lot_id"] for _ in range(2))
    for lot_id in lots:
        release(erp.http, lot_id)
    customer = unique("CUS")
    erp.http.post("/erp/v1/suppliers", json={"supplier_id": customer, "name": "Buyer"})
    lines = [{"lot_id": lot_id, "quantity": 1, "location": "WH1"} for lot_id in lots]
    shipment = {"customer_id": customer, "lines": lines}
    # What the backend locks a lot by: the embedded tables' row, Tryton's connector an advisory lock.
    hold = (
        "SELECT id FROM lots WHERE id = :lot FOR UPDATE"
        if erp.backend == "embedded"
        else "SELECT pg_advisory_xact_lock(hashtextextended('erp:lot:' || :lot, 0))"
    )
    database = Database(erp.database_url)
    try:
        async with database.engine.connect() as other, database.engine.connect() as watcher:
            await other.begin()
            await other.execute(text(hold), {"lot": lots[1]})
            post = asyncio.to_thread(erp.http.post, "/erp/v1/deliveries", json=shipment)
            delivering = asyncio.create_task(post)
            assert await _waits_for_a_lock(watcher), "the delivery never waited for the second lot"
            await other.execute(text(hold), {"lot": lots[0]})  # the cycle: PostgreSQL ends the delivery
            answer = await delivering
            await other.rollback()
    finally:
        await database.dispose()
    problem(answer, 503, "database-contention")
    assert int(answer.headers["retry-after"]) > 0
    for lot_id in lots:
        assert balances(erp.http, lot_id) == [{"location": "WH1", "status": "UNRESTRICTED", "quantity": 40.0}]
    again = erp.http.post("/erp/v1/deliveries", json=shipment)
    assert again.status_code == 201, again.text


async def _waits_for_a_lock(watcher: AsyncConnection, seconds: float = 20.0) -> bool:
    """Whether a session of this database comes to wait for a lock within `seconds` (other tests'
    databases on the same server are not counted)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(round(seconds / 0.05)):
        if (await watcher.execute(waiting)).scalar():
            return True
        await asyncio.sleep(0.05)
    return False
