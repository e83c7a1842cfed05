"""X-Flow-ID and X-Causation-ID are the "why" in the audit trail and in published events. A real
ERP process believes them only from the platform's own clients, decided by the verified token
(client id and issuer); from any other caller they are ignored and stored nowhere."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis import Redis

from contracts.kit.envelope import decode
from contracts.topology import by_name
from plantbridge.processes import RedisServer, ServiceProcess
from tests.support.fixtures import Launch
from tests.support.tokens import TokenIssuer, test_issuer

ERP_SCOPES = ["erp:read", "erp:write"]
QUALITY = by_name("quality").client_id  # a platform client, from the service table


@pytest.fixture(scope="module")
def outsider(tmp_path_factory: pytest.TempPathFactory) -> TokenIssuer:
    """An external identity provider the service also trusts, for people and partner systems."""
    return TokenIssuer(tmp_path_factory.mktemp("idp"), issuer="https://idp.plant.example")


@pytest.fixture(scope="module")
def erp(launch: Launch, database_url, outsider: TokenIssuer) -> Iterator[ServiceProcess]:
    # The test issuer plays the platform's own (the gateway's) issuer; the platform clients are
    # the ones `plantbridge serve` takes from the service table.
    process = launch(
        "erp",
        database_url=database_url("sqlite", "hardening_platform_headers"),
        auth_issuer=test_issuer().issuer,
        auth_jwks_url=test_issuer().jwks_url,
        auth_issuers=outsider.setting,
    )
    yield process
    process.stop()


def call(erp: ServiceProcess, issuer: TokenIssuer, client_id: str) -> httpx.Client:
    token = issuer.mint(ERP_SCOPES, client_id=client_id)
    return httpx.Client(base_url=erp.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def why() -> dict[str, str]:
    return {
        "X-Correlation-ID": f"corr-{uuid.uuid4().hex[:12]}",
        "X-Flow-ID": f"FLOW-{uuid.uuid4().hex[:12]}",
        "X-Causation-ID": str(uuid.uuid4()),
    }


def receive_goods(http: httpx.Client, headers: dict[str, str]) -> str:
    """Item, supplier, PO, then the receipt under `headers`; returns the receipt id."""
    tag = uuid.uuid4().hex[:8].upper()
    assert http.post("/erp/v1/items", json={"item_id": f"RM-{tag}", "description": "Bar"}).status_code == 201
    assert (
        http.post("/erp/v1/suppliers", json={"supplier_id": f"SUP-{tag}", "name": "Acme"}).status_code == 201
    )
    po = http.post(
        "/erp/v1/purchase-orders",
        json={"supplier_id": f"SUP-{tag}", "lines": [{"item_id": f"RM-{tag}", "quantity": 10}]},
    )
    receipt = http.post(
        "/erp/v1/goods-receipts",
        json={"po_id": po.json()["po_id"], "quantity": 10, "location": "WH1"},
        headers=headers,
    )
    assert receipt.status_code == 201, receipt.text
    receipt_id: str = receipt.json()["receipt_id"]
    return receipt_id


def audit_of(http: httpx.Client, receipt_id: str) -> dict[str, Any]:
    (entry,) = http.get("/erp/v1/audit", params={"record_id": receipt_id}).json()["items"]
    return dict(entry)


def published(redis_server: RedisServer, receipt_id: str) -> dict[str, Any]:
    redis = Redis.from_url(redis_server.url)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for _id, fields in redis.xrange("events.erp"):
                event = decode(fields[b"event"])
                if event.subject == receipt_id:
                    return {"correlationid": event.correlationid, "causationid": event.causationid}
            time.sleep(0.1)
        raise AssertionError(f"no event for {receipt_id}")
    finally:
        redis.close()


def test_a_platform_client_says_why_in_the_audit_and_the_events(
    erp: ServiceProcess, redis_server: RedisServer
) -> None:
    headers = why()
    with call(erp, test_issuer(), QUALITY) as http:
        receipt_id = receive_goods(http, headers)
        entry = audit_of(http, receipt_id)
    assert (entry["correlation_id"], entry["flow_id"], entry["causation_id"]) == (
        headers["X-Correlation-ID"],
        headers["X-Flow-ID"],
        headers["X-Causation-ID"],
    )
    assert published(redis_server, receipt_id) == {
        "correlationid": headers["X-Correlation-ID"],
        "causationid": headers["X-Causation-ID"],
    }


@pytest.mark.parametrize(
    "caller",
    ["another client of the platform's issuer", "a platform client's id from another issuer"],
)
def test_anyone_else_cannot_forge_the_why(
    erp: ServiceProcess, redis_server: RedisServer, outsider: TokenIssuer, caller: str
) -> None:
    issuer, client_id = (
        (test_issuer(), "partner-mes") if caller.startswith("another client") else (outsider, QUALITY)
    )
    headers = why()
    with call(erp, issuer, client_id) as http:
        receipt_id = receive_goods(http, headers)
        entry = audit_of(http, receipt_id)
    # Anyone may correlate their own calls; only the platform says which flow or event caused them.
    assert (entry["correlation_id"], entry["flow_id"], entry["causation_id"]) == (
        headers["X-Correlation-ID"],
        None,
        None,
    )
    assert entry["actor"]["client_id"] == client_id
    assert published(redis_server, receipt_id) == {
        "correlationid": headers["X-Correlation-ID"],
        "causationid": "",
    }


def test_a_platform_client_cannot_store_what_is_not_an_id(erp: ServiceProcess) -> None:
    with call(erp, test_issuer(), QUALITY) as http:
        receipt_id = receive_goods(http, {"X-Flow-ID": "FLOW 1; DROP", "X-Causation-ID": "x" * 200})
        entry = audit_of(http, receipt_id)
    assert (entry["flow_id"], entry["causation_id"]) == (None, None)
