"""A flow type names the keys its flows are found by; the flow API filters by exactly those, so a
new searchable key is a line in the flow type, not an edit of the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from contracts.kit import correlation, flows
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.flows import FlowType, Step
from contracts.kit.flows.api import flow_controller, searchable_keys
from contracts.kit.flows.store import flow_metadata
from contracts.kit.settings import ServiceSettings
from contracts.topology import Api, Service
from plantbridge.processes import RedisServer
from tests.support.http import auth_headers
from tests.support.tokens import auth_settings

# A process API made here: no tables of its own (no tests/flows/migrations), the kernel's flow store only.
BATCHES = Service("batches", f"{__name__}:app", 0, "BATCHES", "process", Api())


async def nothing(_ctx: flows.FlowContext[None]) -> None:
    return None


# A key no process knows today: a batch from the shop floor.
BATCH_RELEASE = FlowType("batch_release", "test", (Step("noop", nothing),), keys=("batch_id", "lot_id"))
LINE_CHECK = FlowType("line_check", "test", (Step("noop", nothing),), keys=("line_id", "lot_id"))


@pytest.fixture
def app(tmp_path: Path, redis_server: RedisServer) -> Litestar:
    spec = ServiceSpec(
        BATCHES,
        title="Batches",
        description="A process API made in a test",
        routes=[flow_controller([BATCH_RELEASE, LINE_CHECK], also_filter_by=("order_id",))],
        metadata=flow_metadata,
    )
    settings = ServiceSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/batches.db",
        redis_url=redis_server.url,
        outbox_relay=False,
        auth_issuers=auth_settings()["auth_issuers"],
    )
    return create_service_app(spec, settings)


def test_the_keys_come_from_the_flow_types_in_the_order_declared() -> None:
    assert searchable_keys([BATCH_RELEASE, LINE_CHECK], ("order_id",)) == (
        "batch_id",
        "lot_id",
        "line_id",
        "order_id",
    )


def test_a_key_a_flow_type_declares_is_a_documented_working_filter(app: Litestar) -> None:
    with TestClient(app) as http:
        db = runtime_of(app).db

        async def begin(flow_type: FlowType, keys: dict[str, str]) -> str:
            with correlation.bound("corr-keys"):
                async with db.transaction() as session:
                    return await flows.start(session, flow_type, {}, keys=keys)

        released = http.blocking_portal.call(begin, BATCH_RELEASE, {"batch_id": "B-7", "lot_id": "LOT-1"})
        checked = http.blocking_portal.call(begin, LINE_CHECK, {"line_id": "L-2", "lot_id": "LOT-1"})
        http.headers.update(auth_headers(["batches:read"]))

        def found(**query: str) -> list[str]:
            answer = http.get("/batches/v1/flows", params=query)
            assert answer.status_code == 200, answer.text
            return [f["flow_id"] for f in answer.json()["items"]]

        assert found(batch_id="B-7") == [released]
        assert found(batch_id="B-8") == []
        assert found(line_id="L-2") == [checked]
        assert sorted(found(lot_id="LOT-1")) == sorted([released, checked])
        assert found(order_id="PO-1") == []  # kept by `also_filter_by`: carried by no flow
        parameters = http.get("/batches/v1/schema/openapi.json").json()["paths"]["/batches/v1/flows"]["get"][
            "parameters"
        ]
        names = [p["name"] for p in parameters]
        assert names[-4:] == ["batch_id", "lot_id", "line_id", "order_id"]
        assert "work_order_id" not in names  # no kernel list of business keys any more


def test_a_key_the_flow_type_does_not_declare_is_refused_before_anything_is_written(app: Litestar) -> None:
    async def begin() -> str:
        async with runtime_of(app).db.transaction() as session:
            return await flows.start(session, BATCH_RELEASE, {}, keys={"line_id": "L-2"})

    with TestClient(app) as http:
        with pytest.raises(ValueError, match="batch_release declares no key line_id"):
            http.blocking_portal.call(begin)
        http.headers.update(auth_headers(["batches:read"]))
        assert http.get("/batches/v1/flows").json()["items"] == []
