"""MES lot genealogy at any depth, in one call, on SQLite and PostgreSQL (the app in process over
real databases and Redis): where a lot was used, down through the orders and the lots they made;
where it came from, up; depth and order bounds; a data loop does not hang it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import client

API = "/mes/v1"
STEP = {"op_no": 10, "work_centre": "WC-1"}


@pytest.fixture(scope="module", params=BACKENDS)
def mes(
    request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl
) -> Iterator[httpx.Client]:
    service = in_process("mes", database_url=database_url(request.param, f"mes_genealogy_{request.param}"))
    with client(service, scopes=["mes:read", "mes:write"]) as http:
        yield http
    service.stop()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def produce(
    mes: httpx.Client, item: str, inputs: list[tuple[str, str, float]], outputs: list[tuple[str, float]]
) -> str:
    """A running order that consumed `inputs` (item, lot, quantity) and made `outputs` (lot, quantity)."""
    order_id = f"MO-{uuid.uuid4().hex[:8].upper()}"
    body = {
        "order_id": order_id,
        "item_id": item,
        "planned_quantity": 100,
        "site": "P1",
        "operations": [STEP],
    }
    ok(mes.post(f"{API}/production-orders", json=body), 201)
    for action in ("release", "start"):
        ok(mes.post(f"{API}/production-orders/{order_id}/{action}"))
    for input_item, lot_id, quantity in inputs:
        consumption = {"item_id": input_item, "lot_id": lot_id, "quantity": quantity}
        ok(mes.post(f"{API}/production-orders/{order_id}/consumptions", json=consumption), 201)
    for lot_id, quantity in outputs:
        ok(
            mes.post(
                f"{API}/production-orders/{order_id}/batches", json={"lot_id": lot_id, "quantity": quantity}
            ),
            201,
        )
    return order_id


def lots(tag: str, *names: str) -> list[str]:
    return [f"{name}-{tag}" for name in names]


@pytest.fixture(scope="module")
def tree(mes: httpx.Client) -> dict[str, Any]:
    """Resin lot R goes into two moulding orders (housings H1, H2); H1 and a screw lot S go into an
    assembly (A1), which a packing order turns into P1. A second resin lot R2 only feeds H2's order."""
    t = uuid.uuid4().hex[:6].upper()
    r, r2, s, h1, h2, a1, p1 = lots(t, "R", "R2", "S", "H1", "H2", "A1", "P1")
    mould_1 = produce(mes, "HOUSING", [("RESIN", r, 120.0)], [(h1, 300.0)])
    mould_2 = produce(mes, "HOUSING", [("RESIN", r, 80.0), ("RESIN", r2, 40.0)], [(h2, 290.0)])
    assemble = produce(mes, "ASSEMBLY", [("HOUSING", h1, 300.0), ("SCREW", s, 1200.0)], [(a1, 295.0)])
    pack = produce(mes, "PACKED", [("ASSEMBLY", a1, 295.0)], [(p1, 290.0)])
    return {
        "r": r,
        "r2": r2,
        "s": s,
        "h1": h1,
        "h2": h2,
        "a1": a1,
        "p1": p1,
        "mould_1": mould_1,
        "mould_2": mould_2,
        "assemble": assemble,
        "pack": pack,
    }


def trace(mes: httpx.Client, lot_id: str, **params: Any) -> Any:
    return ok(mes.get(f"{API}/genealogy", params={"lot_id": lot_id, **params}))


def test_where_used_goes_down_every_level_with_the_lots_each_order_made(
    mes: httpx.Client, tree: dict[str, Any]
) -> None:
    found = trace(mes, tree["r"])
    assert found["truncated"] is False
    by_order = {o["order_id"]: o for o in found["orders"]}
    assert [(o["order_id"], o["depth"]) for o in found["orders"]] == sorted(
        [(tree["mould_1"], 1), (tree["mould_2"], 1), (tree["assemble"], 2), (tree["pack"], 3)],
        key=lambda pair: (pair[1], pair[0]),
    )
    assert [(lot["lot_id"], lot["quantity"]) for lot in by_order[tree["mould_2"]]["inputs"]] == sorted(
        [(tree["r"], 80.0), (tree["r2"], 40.0)]
    )
    assert [lot["lot_id"] for lot in by_order[tree["pack"]]["outputs"]] == [tree["p1"]]
    assert by_order[tree["assemble"]]["item_id"] == "ASSEMBLY"


def test_where_from_goes_up_to_every_raw_material(mes: httpx.Client, tree: dict[str, Any]) -> None:
    found = trace(mes, tree["p1"], direction="where_from")
    assert [(o["order_id"], o["depth"]) for o in found["orders"]] == [
        (tree["pack"], 1),
        (tree["assemble"], 2),
        (tree["mould_1"], 3),
    ]
    raw = {lot["lot_id"] for o in found["orders"] for lot in o["inputs"]}
    assert {tree["r"], tree["s"]} <= raw
    assert tree["r2"] not in raw  # fed the other housing order only


def test_depth_and_order_bounds(mes: httpx.Client, tree: dict[str, Any]) -> None:
    shallow = trace(mes, tree["r"], max_depth=1)
    assert {o["order_id"] for o in shallow["orders"]} == {tree["mould_1"], tree["mould_2"]}
    capped = trace(mes, tree["r"], max_orders=3)
    assert (len(capped["orders"]), capped["truncated"]) == (3, True)
    assert trace(mes, f"NO-SUCH-{uuid.uuid4().hex[:6]}")["orders"] == []
    refused = mes.get(f"{API}/genealogy", params={"lot_id": tree["r"], "max_depth": 0})
    assert refused.status_code == 400
    assert mes.get(f"{API}/genealogy").status_code == 400  # the lot is required


def test_a_loop_in_the_data_ends_at_the_depth_bound(mes: httpx.Client) -> None:
    t = uuid.uuid4().hex[:6].upper()
    x, y = lots(t, "X", "Y")
    first = produce(mes, "I1", [("I0", x, 1.0)], [(y, 1.0)])
    second = produce(mes, "I0", [("I1", y, 1.0)], [(x, 1.0)])  # a rework that feeds back: X -> Y -> X
    found = trace(mes, x, max_depth=50)
    assert [(o["order_id"], o["depth"]) for o in found["orders"]] == [(first, 1), (second, 2)]
