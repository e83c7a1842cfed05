"""Hostile JSON bodies against a real ERP process, directly and through the gateway: nesting past
the documented depth is a 400 naming the limit (never a 500), a body over the size limit a 413
naming it, and a body that is not JSON by its media type a 415 — each changing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from plantbridge.processes import ServiceProcess
from tests.support.fixtures import Launch
from tests.support.http import client

ERP_SCOPES = ["erp:read", "erp:write"]
JSON = {"Content-Type": "application/json"}
DEPTH_LIMIT = 32  # the documented default, ServiceSettings.json_max_depth


def nested(depth: int) -> bytes:
    """An item whose `description` is nested `depth` levels deep, counting the outer object."""
    return b'{"item_id": "RM-DEEP", "description": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def new_item() -> str:
    return f"RM-{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture(scope="module")
def erp(launch: Launch, database_url) -> ServiceProcess:
    return launch("erp", database_url=database_url("sqlite", "hardening_json_erp"))


@pytest.fixture(scope="module")
def gateway(launch: Launch, database_url, erp: ServiceProcess) -> ServiceProcess:
    return launch(
        "gateway", database_url=database_url("sqlite", "hardening_json_gw"), upstreams=f"erp={erp.url}"
    )


@pytest.fixture(scope="module", params=["direct", "through the gateway"])
def http(request: pytest.FixtureRequest, erp: ServiceProcess) -> Iterator[httpx.Client]:
    target = erp if request.param == "direct" else request.getfixturevalue("gateway")
    with client(target, scopes=ERP_SCOPES) as session:
        yield session


@pytest.mark.parametrize("depth", [DEPTH_LIMIT + 1, 600, 100_000])
def test_nesting_past_the_limit_is_a_400_naming_it(http: httpx.Client, depth: int) -> None:
    answer = http.post("/erp/v1/items", content=nested(depth), headers=JSON)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["type"] == "urn:plantbridge:problem:json-too-deep"
    assert f"{DEPTH_LIMIT} levels" in problem["detail"]
    assert answer.headers["content-type"] == "application/problem+json"


def test_nesting_within_the_limit_is_validated_as_usual(http: httpx.Client) -> None:
    answer = http.post("/erp/v1/items", content=nested(DEPTH_LIMIT), headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "urn:plantbridge:problem:validation"  # description must be text


def test_brackets_inside_strings_are_not_nesting(http: httpx.Client) -> None:
    item = new_item()
    body = {"item_id": item, "description": "[" * 150 + '{"' + "}" * 5}
    assert http.post("/erp/v1/items", json=body).status_code == 201


def test_a_body_over_the_size_limit_is_a_413_naming_it(http: httpx.Client) -> None:
    item = new_item()
    padding = " " * 1_048_576
    answer = http.post(
        "/erp/v1/items", content=f'{{"item_id": "{item}", "description": "x"}}{padding}', headers=JSON
    )
    assert answer.status_code == 413, answer.text
    assert "1048576 bytes" in answer.json()["detail"]
    assert http.get(f"/erp/v1/items/{item}").status_code == 404


@pytest.mark.parametrize("media_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_a_415_and_creates_nothing(http: httpx.Client, media_type: str) -> None:
    # Lax decoding would take 0 as false and "5" as 5.0 and create the item.
    item = new_item()
    body = f'{{"item_id": "{item}", "description": "Steel", "inspection_required": 0, "reorder_point": "5"}}'
    answer = http.post("/erp/v1/items", content=body, headers={"Content-Type": media_type})
    assert answer.status_code == 415, answer.text
    problem = answer.json()
    assert problem["type"] == "urn:plantbridge:problem:unsupported-media-type"
    assert "application/json" in problem["detail"]
    assert http.get(f"/erp/v1/items/{item}").status_code == 404


def test_a_body_without_a_media_type_is_a_415(http: httpx.Client) -> None:
    item = new_item()
    body = f'{{"item_id": "{item}", "description": "x"}}'
    request = http.build_request("POST", "/erp/v1/items", content=body)
    assert "content-type" not in request.headers
    assert http.send(request).status_code == 415
    assert http.get(f"/erp/v1/items/{item}").status_code == 404


@pytest.mark.parametrize(
    "media_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd.plantbridge+json"]
)
def test_json_media_types_are_accepted(http: httpx.Client, media_type: str) -> None:
    item = new_item()
    body = f'{{"item_id": "{item}", "description": "Steel"}}'
    answer = http.post("/erp/v1/items", content=body, headers={"Content-Type": media_type})
    assert answer.status_code == 201, answer.text


def test_the_depth_limit_is_a_setting(launch: Launch, database_url) -> None:
    erp = launch("erp", database_url=database_url("sqlite", "hardening_json_depth"), json_max_depth="3")
    with client(erp, scopes=ERP_SCOPES) as http:
        deep = http.post("/erp/v1/items", content=nested(4), headers=JSON)
        assert deep.status_code == 400
        assert "3 levels" in deep.json()["detail"]
        item = new_item()
        assert http.post("/erp/v1/items", json={"item_id": item, "description": "flat"}).status_code == 201
    erp.stop()
