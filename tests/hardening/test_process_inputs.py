"""A process API refuses at its door (422, no flow started) what the system API it feeds would
refuse later, when the flow could only stall on it: quantities no stock record can keep, failure
times in the future or outside plant years. Real processes; their upstreams name a closed port,
since nothing here may get past the door. MES, whose batch completions start the production
inspection flow, holds its quantities to the same rule."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from plantbridge.processes import RedisServer, free_port
from tests.integration.test_mes_api import API as MES_API
from tests.integration.test_mes_api import running_order
from tests.support.fixtures import Launch
from tests.support.http import client

UPSTREAMS = {"quality": ("erp", "qms", "mes", "xref"), "maintenance": ("erp", "qms", "cmms", "mes", "xref")}
TOO_SMALL = [1e-300, 0.0004]  # both round to nothing at the 3 decimals stock records keep
Start = Callable[[str], Iterator[httpx.Client]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def launch_process(
    launch: Launch, database_url, redis_server: RedisServer, name: str
) -> Iterator[httpx.Client]:
    nowhere = f"http://127.0.0.1:{free_port()}"
    service = launch(
        name,
        database_url=database_url("sqlite", f"{name}_inputs"),
        redis_url=redis_server.url.rsplit("/", 1)[0] + "/1",  # the contract tests' database
        auth_token_url=f"{nowhere}/oauth2/token",
        flow_max_attempts="1",
        **{f"{upstream}_url": nowhere for upstream in UPSTREAMS[name]},
    )
    with client(service, scopes=[f"{name}:read", f"{name}:write"]) as http:
        yield http
    service.stop()


@pytest.fixture(scope="module")
def quality(launch: Launch, database_url, redis_server: RedisServer) -> Iterator[httpx.Client]:
    yield from launch_process(launch, database_url, redis_server, "quality")


@pytest.fixture(scope="module")
def maintenance(launch: Launch, database_url, redis_server: RedisServer) -> Iterator[httpx.Client]:
    yield from launch_process(launch, database_url, redis_server, "maintenance")


def refused(http: httpx.Client, path: str, body: dict[str, Any], slug: str, **flow_keys: str) -> None:
    answer = http.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == f"urn:plantbridge:problem:{slug}"
    api = path.split("/flows/")[0]
    assert http.get(f"{api}/flows", params=flow_keys).json()["items"] == []


def production(lot_id: str, quantity: float) -> dict[str, Any]:
    return {
        "order_id": unique("PO"),
        "item_id": "FG-1",
        "lot_id": lot_id,
        "quantity": quantity,
        "location": "FG-01",
    }


@pytest.mark.parametrize("quantity", TOO_SMALL)
def test_production_inspection_refuses_a_quantity_no_stock_record_keeps(
    quality: httpx.Client, quantity: float
) -> None:
    lot = unique("LOT")
    path = "/quality/v1/flows/production-inspection"
    refused(quality, path, production(lot, quantity), "invalid-quantity", lot_id=lot)
    assert quality.post(path, json=production(unique("LOT"), 0.001)).status_code == 201


@pytest.mark.parametrize("quantity", TOO_SMALL)
def test_nc_disposition_refuses_a_quantity_no_stock_record_keeps(
    quality: httpx.Client, quantity: float
) -> None:
    lot = unique("LOT")
    body = {"nc_id": unique("NC"), "lot_id": lot, "disposition": "scrap", "quantity": quantity}
    refused(quality, "/quality/v1/flows/nc-disposition", body, "invalid-quantity", lot_id=lot)
    whole_lot = {**body, "lot_id": unique("LOT")}
    del whole_lot["quantity"]
    assert quality.post("/quality/v1/flows/nc-disposition", json=whole_lot).status_code == 201


@pytest.mark.parametrize(
    "failure_time",
    [
        (datetime.now(UTC) + timedelta(hours=1)).isoformat(),  # CMMS: "failure_time lies in the future"
        "1850-01-01T00:00:00+00:00",  # outside the years any plant record has
    ],
)
def test_breakdown_refuses_a_failure_time_cmms_would_refuse(
    maintenance: httpx.Client, failure_time: str
) -> None:
    machine = unique("EQ")
    body = {"reason": "Spindle seized", "equipment_id": machine, "failure_time": failure_time}
    refused(maintenance, "/maintenance/v1/flows/breakdown", body, "invalid-date-time", equipment_id=machine)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        maintenance.post(
            "/maintenance/v1/flows/breakdown", json={**body, "failure_time": an_hour_ago}
        ).status_code
        == 201
    )


@pytest.mark.parametrize("quantity", TOO_SMALL)
def test_mes_refuses_a_batch_quantity_no_stock_record_keeps(
    launch: Launch, database_url, quantity: float
) -> None:
    mes = launch("mes", database_url=database_url("sqlite", "mes_inputs"))
    with client(mes, scopes=["mes:read", "mes:write"]) as http:
        order = running_order(http)
        batches = f"{MES_API}/production-orders/{order['order_id']}/batches"
        answer = http.post(batches, json={"quantity": quantity})
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"] == "urn:plantbridge:problem:invalid-quantity"
        assert http.get(batches).json()["items"] == []
        assert http.post(batches, json={"quantity": 0.001}).status_code == 201
    mes.stop()


@pytest.mark.parametrize(
    "target",
    [
        "/quality/v1/flows?type=%00",
        "/quality/v1/flows?lot_id=LOT-1%0A",
        "/quality/v1/flows/%00",
        "/quality/v1/flows/FLOW-1%0A/timeline",
        "/quality/v1/approvals?flow_id=a%00b",
    ],
)
def test_control_characters_in_the_path_or_query_are_a_422_before_any_route(
    quality: httpx.Client, target: str
) -> None:
    """PostgreSQL refuses NUL in text (a 500 further in) and a line feed ends up in headers."""
    answer = quality.get(target)
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == "urn:plantbridge:problem:control-characters"
    assert quality.get("/quality/v1/flows", params={"lot_id": "LOT-1"}).status_code == 200
