"""Inbound webhooks through the gateway (no token: the signature authenticates), verified and
mapped to QMS commands on a real QMS; every refusal is a 4xx problem and changes nothing.
The senders sign with the Standard Webhooks reference library."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from contracts.topology import by_name
from plantbridge.launcher import register_client
from plantbridge.processes import ServiceProcess, free_port
from tests.experience.seed import ok, supplier_case
from tests.support.http import client

QMS_SCOPES = ["qms:read", "qms:write"]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


SOURCES = """
[sources.cloudqms]
title = "CloudQMS"
secrets = ["env:WEBHOOKS_CLOUDQMS_SECRET"]

[[sources.cloudqms.mappings]]
when_type = "inspection.completed"
command = "record-inspection-results"
fields = {{ inspection_lot_id = "/data/lotRef", recorded_by = "/data/inspector", results = "/data/checks" }}
item_fields = {{ characteristic = "/code", value = "/measured", unit = "/uom", conforming = "/verdict" }}
values = {{ conforming = {{ PASS = true, FAIL = false }} }}

[sources.acme-8d]
title = "ACME supplier portal"
supplier_id = "SUP-A"
secrets = ["{acme}"]

[[sources.acme-8d.mappings]]
when_type = "eightd.answered"
command = "answer-supplier-case"

[sources.acme-8d.mappings.fields]
case_id = "/data/scar"
containment = "/data/d3"
root_cause = "/data/d4"
corrective_action = "/data/d5"
responded_by = "/data/author"
"""


@dataclass
class Inbound:
    gateway: ServiceProcess
    qms: ServiceProcess
    cloudqms: str  # the sources' secrets
    acme: str

    def post(
        self,
        source: str,
        secret: str,
        payload: Any,
        *,
        webhook_id: str | None = None,
        at: float | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        raw = body if body is not None else json.dumps(payload).encode()
        webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        moment = datetime.fromtimestamp(int(at if at is not None else time.time()), UTC)
        headers = {
            "content-type": content_type,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, moment, raw),
        }
        return httpx.post(
            f"{self.gateway.url}/webhooks/v1/inbound/{source}", content=raw, headers=headers, timeout=10
        )

    def qms_api(self) -> httpx.Client:
        return client(self.qms, scopes=QMS_SCOPES)


@pytest.fixture(scope="module")
def inbound(launch, database_url, tmp_path_factory) -> Iterator[Inbound]:
    port = free_port()
    gateway_url = f"http://127.0.0.1:{port}"
    trust = {"auth_issuer": gateway_url, "auth_jwks_url": f"{gateway_url}/.well-known/jwks.json"}
    gateway_db = database_url("sqlite", "inbound_gateway")
    qms = launch("qms", database_url=database_url("sqlite", "inbound_qms"), **trust)
    service = by_name("webhooks")
    client_secret = secrets.token_urlsafe(24)
    register_client(
        {"GATEWAY_DATABASE_URL": gateway_db}, service.client_id, service.client_scopes, client_secret
    )
    cloudqms, acme = new_secret(), new_secret()
    sources = Path(tmp_path_factory.mktemp("sources")) / "sources.toml"
    sources.write_text(SOURCES.format(acme=acme))
    webhooks = launch(
        "webhooks",
        database_url=database_url("sqlite", "inbound_webhooks"),
        sources_file=str(sources),
        cloudqms_secret=cloudqms,
        qms_url=qms.url,
        client_id=service.client_id,
        client_secret=client_secret,
        auth_token_url=f"{gateway_url}/oauth2/token",
        **trust,
    )
    gateway = launch(
        "gateway",
        database_url=gateway_db,
        port=port,
        issuer=gateway_url,
        upstreams=f"webhooks={webhooks.url}",
    )
    yield Inbound(gateway, qms, cloudqms, acme)
    for process in (gateway, webhooks, qms):
        process.stop()


def _lot(qms: httpx.Client, supplier: str = "SUP-A") -> dict[str, Any]:
    lot = ok(
        qms.post(
            "/qms/v1/inspection-lots",
            json={
                "origin": "goods_receipt",
                "item_id": "RM-BAR",
                "lot_id": f"LOT-{uuid.uuid4().hex[:6]}",
                "sample_size": 5,
                "supplier_id": supplier,
                "characteristics": [
                    {"code": "DIA", "kind": "numeric", "min_value": 9.95, "max_value": 10.05, "unit": "mm"},
                    {"code": "VIS", "kind": "attribute"},
                ],
            },
        ),
        201,
    )
    return ok(qms.post(f"/qms/v1/inspection-lots/{lot['inspection_lot_id']}/start", json={"by": "kim"}))


def _completed(lot_id: str, diameter: float = 10.08) -> dict[str, Any]:
    return {
        "type": "inspection.completed",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {
            "lotRef": lot_id,
            "inspector": "cloudqms:j.smith",
            "checks": [
                {"code": "DIA", "measured": diameter, "uom": "mm"},
                {"code": "VIS", "verdict": "PASS"},
            ],
        },
    }


def _state(qms: httpx.Client, lot_id: str) -> tuple[int, str, str]:
    lot = ok(qms.get(f"/qms/v2/inspection-lots/{lot_id}"))
    return lot["version"], lot["status"], lot["result"]


def _problem(answer: httpx.Response, status: int, slug: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == f"urn:plantbridge:problem:{slug}"


def _answer(answer: httpx.Response) -> tuple[int, str]:
    """The status and the problem's slug, if it is a problem: one comparison shows every case."""
    problem = answer.headers["content-type"] == "application/problem+json"
    return answer.status_code, answer.json()["type"].removeprefix(
        "urn:plantbridge:problem:"
    ) if problem else ""


def test_an_external_inspection_result_becomes_qms_results_once(inbound: Inbound) -> None:
    with inbound.qms_api() as qms:
        lot = _lot(qms)
        lot_id = lot["inspection_lot_id"]
        payload = _completed(lot_id)
        answer = inbound.post("cloudqms", inbound.cloudqms, payload, webhook_id="msg_first")
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"] == {
            "inspection_lot_id": lot_id,
            "status": "results_recorded",
            "result": "fail",
        }
        recorded = ok(qms.get(f"/qms/v2/inspection-lots/{lot_id}"))
        measured = {c["code"]: c for c in recorded["characteristics"]}
        assert measured["DIA"]["result"]["measurement"]["value"] == 10.08
        assert measured["VIS"]["result"]["conforming"] is True
        applied = _state(qms, lot_id)

        # The sender tries again (a new timestamp): the first answer, nothing applied twice.
        again = inbound.post(
            "cloudqms", inbound.cloudqms, payload, webhook_id="msg_first", at=time.time() + 1
        )
        assert again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["result"] == answer.json()["result"]
        assert _state(qms, lot_id) == applied


def test_bad_signature_old_timestamp_and_replays_change_nothing(inbound: Inbound) -> None:
    with inbound.qms_api() as qms:
        lot_id = _lot(qms)["inspection_lot_id"]
        before = _state(qms, lot_id)
        payload = _completed(lot_id)

        _problem(inbound.post("cloudqms", new_secret(), payload), 401, "webhook-signature-invalid")
        _problem(
            inbound.post("cloudqms", inbound.cloudqms, payload, at=time.time() - 600),
            401,
            "webhook-timestamp-out-of-tolerance",
        )
        _problem(inbound.post("nobody", inbound.cloudqms, payload), 404, "webhook-source-unknown")
        unsigned = httpx.post(f"{inbound.gateway.url}/webhooks/v1/inbound/cloudqms", json=payload, timeout=10)
        _problem(unsigned, 400, "webhook-headers-missing")
        # "²" (0xB2 in the header's Latin-1) is a digit to str.isdigit() but not to int().
        odd_stamp = {"webhook-id": "msg_odd", "webhook-timestamp": b"\xb2", "webhook-signature": "v1,AAAA"}
        odd = httpx.post(
            f"{inbound.gateway.url}/webhooks/v1/inbound/cloudqms", json=payload, headers=odd_stamp, timeout=10
        )
        _problem(odd, 400, "webhook-headers-invalid")
        _problem(
            inbound.post("cloudqms", inbound.cloudqms, {"type": "inspection.deleted", "data": {}}),
            422,
            "webhook-type-not-mapped",
        )
        assert _state(qms, lot_id) == before  # none of these changed anything

        # A captured request sent again as it was: refused, and applied only the first time.
        stamp = time.time()
        first = inbound.post("cloudqms", inbound.cloudqms, payload, webhook_id="msg_captured", at=stamp)
        assert first.status_code == 200
        after = _state(qms, lot_id)
        assert after != before
        _problem(
            inbound.post("cloudqms", inbound.cloudqms, payload, webhook_id="msg_captured", at=stamp),
            409,
            "webhook-replayed",
        )
        other = _completed(lot_id, diameter=10.0)
        _problem(
            inbound.post("cloudqms", inbound.cloudqms, other, webhook_id="msg_captured"),
            422,
            "webhook-id-reused",
        )
        assert _state(qms, lot_id) == after


def test_a_suppliers_8d_answer_reaches_only_its_own_issued_case(inbound: Inbound) -> None:
    with inbound.qms_api() as qms:
        own = supplier_case(qms, "SUP-A")
        foreign = supplier_case(qms, "SUP-B")
        draft = supplier_case(qms, "SUP-A", issue=False)

        def answer(case_id: str) -> dict[str, Any]:
            return {
                "type": "eightd.answered",
                "data": {
                    "scar": case_id,
                    "d3": "Sorted stock",
                    "d4": "Worn tool",
                    "d5": "Tool-life counter",
                    "author": "j.doe@acme.example",
                },
            }

        for case in (foreign, draft):
            _problem(inbound.post("acme-8d", inbound.acme, answer(case["case_id"])), 404, "not-found")
            assert ok(qms.get(f"/qms/v1/supplier-cases/{case['case_id']}"))["version"] == case["version"]

        done = inbound.post("acme-8d", inbound.acme, answer(own["case_id"]))
        assert done.status_code == 200, done.text
        case = ok(qms.get(f"/qms/v1/supplier-cases/{own['case_id']}"))
        assert case["status"] == "response_received"
        assert case["responses"][-1]["root_cause"] == "Worn tool"
        # The acme source's secret is not the CloudQMS one.
        _problem(
            inbound.post("cloudqms", inbound.acme, answer(own["case_id"])), 401, "webhook-signature-invalid"
        )


def test_a_signed_payload_of_the_wrong_shape_is_refused_and_changes_nothing(inbound: Inbound) -> None:
    """Every value a mapping reads is checked for its type before a command uses it: 422, not a
    500 from inside the command, and nothing recorded, so the sender's corrected retry (the same
    webhook-id) is taken."""
    with inbound.qms_api() as qms:
        lot_id = _lot(qms)["inspection_lot_id"]
        before = _state(qms, lot_id)

        def shaped(**data: Any) -> dict[str, Any]:
            payload = _completed(lot_id)
            payload["data"].update(data)
            return payload

        wrong = {
            "checks a string": shaped(checks="PASS"),
            "checks a number": shaped(checks=5),
            "checks a boolean": shaped(checks=True),
            "checks an object": shaped(checks={"code": "VIS", "verdict": "PASS"}),
            "checks an empty object": shaped(checks={}),
            "a check not an object": shaped(checks=[{"code": "VIS", "verdict": "PASS"}, "DIA"]),
            "a measured value a string": shaped(checks=[{"code": "DIA", "measured": "10.0", "uom": "mm"}]),
            "the inspector a number": shaped(inspector=0),
            "the inspector false": shaped(inspector=False),
            "the lot a number": shaped(lotRef=5),
            "the lot not an id": shaped(lotRef=f"IL-X/../{lot_id}"),
        }
        answers = {
            why: _answer(inbound.post("cloudqms", inbound.cloudqms, payload, webhook_id="msg_shape"))
            for why, payload in wrong.items()
        }
        assert answers == dict.fromkeys(wrong, (422, "webhook-payload-invalid"))
        assert _state(qms, lot_id) == before

        # Nothing was recorded under that webhook-id: the corrected webhook is taken.
        fixed = inbound.post("cloudqms", inbound.cloudqms, _completed(lot_id), webhook_id="msg_shape")
        assert fixed.status_code == 200, fixed.text
        assert "idempotent-replayed" not in fixed.headers
        assert _state(qms, lot_id) != before


def test_a_suppliers_8d_answer_of_the_wrong_shape_is_refused(inbound: Inbound) -> None:
    with inbound.qms_api() as qms:
        own = supplier_case(qms, "SUP-A")
        texts = {"d3": "Sorted stock", "d4": "Worn tool", "d5": "Tool-life counter"}
        wrong = {
            "the case a number": {"scar": 5, **texts},
            "the case not an id": {"scar": f"SC-X/../{own['case_id']}", **texts},
            "an answer a list": {"scar": own["case_id"], **texts, "d4": ["Worn tool"]},
            "an answer an object": {"scar": own["case_id"], **texts, "d3": {"text": "Sorted"}},
            "the author false": {"scar": own["case_id"], **texts, "author": False},
            "an answer missing": {"scar": own["case_id"], "d3": "Sorted stock", "d4": "Worn tool"},
        }
        answers = {
            why: _answer(inbound.post("acme-8d", inbound.acme, {"type": "eightd.answered", "data": data}))
            for why, data in wrong.items()
        }
        assert answers == dict.fromkeys(wrong, (422, "webhook-payload-invalid"))
        assert ok(qms.get(f"/qms/v1/supplier-cases/{own['case_id']}"))["version"] == own["version"]


def test_a_signed_body_nested_too_deep_is_refused_before_it_is_decoded(inbound: Inbound) -> None:
    """The kernel's JSON depth limit (WEBHOOKS_JSON_MAX_DEPTH, 32) holds for this raw-body route
    too: 400 json-too-deep, not a RecursionError, and nothing recorded."""
    with inbound.qms_api() as qms:
        lot_id = _lot(qms)["inspection_lot_id"]
        before = _state(qms, lot_id)
        deep = b'{"type":"inspection.completed","data":' + b"[" * 1000 + b"]" * 1000 + b"}"
        for _ in range(2):  # the same delivery again is refused again, not a replay of anything
            answer = inbound.post("cloudqms", inbound.cloudqms, None, webhook_id="msg_deep", body=deep)
            _problem(answer, 400, "json-too-deep")
            assert "at most 32 levels" in answer.json()["detail"]
        assert _state(qms, lot_id) == before
        # A body within the limit that is not what the mapping wants is the usual 422.
        shallow = b'{"type":"inspection.completed","data":' + b"[" * 30 + b"]" * 30 + b"}"
        _problem(
            inbound.post("cloudqms", inbound.cloudqms, None, webhook_id="msg_deep", body=shallow),
            422,
            "webhook-payload-invalid",
        )
        taken = inbound.post("cloudqms", inbound.cloudqms, _completed(lot_id), webhook_id="msg_deep")
        assert taken.status_code == 200, taken.text
        assert _state(qms, lot_id) != before


def test_a_signed_body_sent_as_another_media_type_is_refused_and_changes_nothing(inbound: Inbound) -> None:
    """Standard Webhooks payloads are JSON: a signed body sent as a form, as text or without a
    Content-Type is 415 (as for every JSON body of the platform), nothing recorded, and the
    sender's corrected delivery under the same webhook-id is taken."""
    with inbound.qms_api() as qms:
        lot_id = _lot(qms)["inspection_lot_id"]
        before = _state(qms, lot_id)
        payload = _completed(lot_id)
        for media_type in ("application/x-www-form-urlencoded", "text/plain", ""):
            sent = inbound.post(
                "cloudqms", inbound.cloudqms, payload, webhook_id="msg_media", content_type=media_type
            )
            _problem(sent, 415, "unsupported-media-type")
        assert _state(qms, lot_id) == before
        taken = inbound.post(
            "cloudqms",
            inbound.cloudqms,
            payload,
            webhook_id="msg_media",
            content_type="application/json; charset=utf-8",
        )
        assert taken.status_code == 200, taken.text
        assert "idempotent-replayed" not in taken.headers
