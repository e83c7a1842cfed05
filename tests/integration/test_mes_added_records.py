"""MES records added under a production order (confirmations, batches, consumptions): each POST
answers 201 with what was added, its Location the order's collection it joined, where a client
lists it; and a stale If-Match adds nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_mes_api import API, SCOPES, running_order
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, Body, api_in_process, ok, problem


@pytest.fixture(scope="module", params=BACKENDS)
def mes(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"mes_added_{request.param}")
    with api_in_process(in_process, "mes", url, scopes=SCOPES) as api:
        yield api


ADDED: list[tuple[str, Body]] = [
    ("confirmations", {"op_no": 10, "good_quantity": 5}),
    ("batches", {"quantity": 5}),
    ("consumptions", {"item_id": "RM-PA66", "quantity": 2}),
]


@pytest.mark.parametrize(("collection", "body"), ADDED, ids=[c for c, _ in ADDED])
def test_an_added_record_is_201_located_at_its_collection(mes: Api, collection: str, body: Body) -> None:
    order_id = running_order(mes.http)["order_id"]
    path = f"{API}/production-orders/{order_id}/{collection}"
    answer = mes.http.post(path, json=body)
    added = ok(answer, 201)
    assert answer.headers["location"] == path
    assert answer.headers["etag"]
    assert added["order_id"] == order_id
    assert [item["order_id"] for item in ok(mes.http.get(answer.headers["location"]))["items"]] == [order_id]


@pytest.mark.parametrize(("collection", "body"), ADDED, ids=[c for c, _ in ADDED])
def test_a_stale_if_match_adds_nothing(mes: Api, collection: str, body: Body) -> None:
    order_id = running_order(mes.http)["order_id"]
    path = f"{API}/production-orders/{order_id}/{collection}"
    problem(mes.http.post(path, json=body, headers={"If-Match": '"0"'}), 412, "stale-version")
    assert ok(mes.http.get(path))["items"] == []
