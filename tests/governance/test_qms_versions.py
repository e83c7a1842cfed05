"""QMS v1 and v2 (served in process): the same inspection data in both shapes; v1 deprecated, then
gone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import api_in_process, client

SCOPES = ["qms:read", "qms:write"]


@pytest.fixture(scope="module", params=BACKENDS)
def qms(
    request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl
) -> Iterator[httpx.Client]:
    with api_in_process(
        in_process, "qms", database_url(request.param, f"qms_versions_{request.param}")
    ) as qms:
        yield qms.http


def _lot(http: httpx.Client, version: str) -> dict[str, Any]:
    body = {
        "origin": "goods_receipt",
        "source_ref": f"GR-{uuid.uuid4().hex[:8]}",
        "item_id": "RM-STEEL-BAR",
        "lot_id": f"LOT-{uuid.uuid4().hex[:8]}",
        "sample_size": 5,
        "characteristics": [
            {"code": "DIA", "kind": "numeric", "min_value": 9.95, "max_value": 10.05, "unit": "mm"},
            {"code": "VIS", "kind": "attribute"},
        ],
    }
    created = http.post(f"/qms/{version}/inspection-lots", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"].startswith(f"/qms/{version}/inspection-lots/")
    lot: dict[str, Any] = created.json()
    started = http.post(f"/qms/{version}/inspection-lots/{lot['inspection_lot_id']}/start", json={})
    assert started.status_code == 200, started.text
    return dict(started.json())


def test_v1_and_v2_serve_the_same_inspection_data(qms: httpx.Client) -> None:
    lot = _lot(qms, "v1")
    lot_id = lot["inspection_lot_id"]
    recorded = qms.post(
        f"/qms/v1/inspection-lots/{lot_id}/results",
        json={"results": [{"characteristic": "DIA", "value": 10.01, "uncertainty": 0.002}]},
    )
    assert recorded.status_code == 200, recorded.text

    v1 = qms.get(f"/qms/v1/inspection-lots/{lot_id}").json()
    v2 = qms.get(f"/qms/v2/inspection-lots/{lot_id}").json()
    flat = {k: v for k, v in v1.items() if k != "characteristics"}
    assert flat == {k: v for k, v in v2.items() if k != "characteristics"}

    dia1 = next(c for c in v1["characteristics"] if c["code"] == "DIA")
    dia2 = next(c for c in v2["characteristics"] if c["code"] == "DIA")
    assert (dia1["result"]["value"], dia1["result"]["unit"], dia1["result"]["uncertainty"]) == (
        10.01,
        "mm",
        0.002,
    )
    measurement = dia2["result"]["measurement"]
    assert measurement["value"] == 10.01
    assert measurement["unit"] == "mm"
    assert measurement["uncertainty"] == {"value": 0.002, "unit": "mm"}
    assert measurement["interval"]["unit"] == "mm"
    assert measurement["interval"]["low"] == pytest.approx(10.008)
    assert measurement["interval"]["high"] == pytest.approx(10.012)
    assert dia2["specification"] == {
        "lower_limit": {"value": 9.95, "unit": "mm"},
        "upper_limit": {"value": 10.05, "unit": "mm"},
    }
    assert dia2["result"]["evaluation"] == dia1["result"]["evaluation"] == "pass"
    vis2 = next(c for c in v2["characteristics"] if c["code"] == "VIS")
    assert vis2["specification"] is None
    assert vis2["result"] is None

    listed = qms.get("/qms/v2/inspection-lots", params={"lot_id": lot["lot_id"]}).json()
    assert [i["inspection_lot_id"] for i in listed["items"]] == [lot_id]


def test_v2_records_results_as_measurements(qms: httpx.Client) -> None:
    lot = _lot(qms, "v2")
    lot_id = lot["inspection_lot_id"]
    recorded = qms.post(
        f"/qms/v2/inspection-lots/{lot_id}/results",
        json={
            "results": [
                {"characteristic": "DIA", "measurement": {"value": 10.2, "unit": "mm", "uncertainty": 0.01}},
                {"characteristic": "VIS", "conforming": True},
            ]
        },
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["failed_characteristics"] == ["DIA"]
    v1 = qms.get(f"/qms/v1/inspection-lots/{lot_id}").json()
    dia1 = next(c for c in v1["characteristics"] if c["code"] == "DIA")
    assert (dia1["result"]["value"], dia1["result"]["uncertainty"], dia1["result"]["evaluation"]) == (
        10.2,
        0.01,
        "fail",
    )
    # A v2 measurement without its unit is bad input: a 4xx problem, never stored.
    bad = qms.post(
        f"/qms/v2/inspection-lots/{lot_id}/results",
        json={"results": [{"characteristic": "DIA", "measurement": {"value": 1.0}}]},
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_v1_carries_deprecation_headers_and_v2_does_not(qms: httpx.Client) -> None:
    v1 = qms.get("/qms/v1/inspection-lots")
    assert v1.status_code == 200
    assert v1.headers["deprecation"].startswith("@")
    assert int(v1.headers["deprecation"][1:]) > 0
    assert parsedate_to_datetime(v1.headers["sunset"]).year == 2027
    assert v1.headers["link"] == '</qms/v2>; rel="successor-version"'
    v2 = qms.get("/qms/v2/inspection-lots")
    assert v2.status_code == 200
    assert "deprecation" not in v2.headers
    assert "sunset" not in v2.headers


def test_v1_answers_410_after_its_sunset(in_process: Serve, database_url: DatabaseUrl) -> None:
    qms = in_process(
        "qms", database_url=database_url("sqlite", "qms_sunset"), v1_sunset="2020-01-01T00:00:00Z"
    )
    try:
        with client(qms, scopes=SCOPES) as http:
            gone = http.get("/qms/v1/inspection-lots")
            assert gone.status_code == 410
            assert gone.headers["content-type"].startswith("application/problem+json")
            problem = gone.json()
            assert problem["type"] == "urn:plantbridge:problem:version-sunset"
            assert problem["successor_version"] == "/qms/v2"
            assert "/qms/v2" in problem["detail"]
            assert gone.headers["link"] == '</qms/v2>; rel="successor-version"'
            assert http.get("/qms/v2/inspection-lots").status_code == 200
    finally:
        qms.stop()


@pytest.mark.parametrize("major", [1, 2])
def test_each_major_serves_its_own_committed_document(qms: httpx.Client, major: int) -> None:
    """A partner on v2 reads `/qms/v2/schema/openapi.json`: exactly the committed v2 document."""
    from plantbridge.governance import documents

    served = qms.get(f"/qms/v{major}/schema/openapi.json")
    assert served.status_code == 200
    committed = documents.load(documents.OPENAPI_DIR / documents.file_name("qms", major))
    assert served.json()["paths"] == committed["paths"]
    assert served.json()["info"]["version"] == committed["info"]["version"]
