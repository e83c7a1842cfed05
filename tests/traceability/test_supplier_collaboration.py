"""Supplier collaboration through the portal: a rejected lot's supplier case reaches the supplier
at once (the plant's rule issues it), and the supplier answers with a full 8D report and its own
documents, which QMS keeps on disk with their digest; nobody attaches another supplier's file."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support.wait import eventually
from tests.traceability.conftest import PORTAL_DOCUMENT_LIMIT, Plant, ok

PDF = b"%PDF-1.7\n" + b"8D report, supplier side\n" * 2000 + b"%%EOF\n"
EIGHT_D = {
    "team": "J. Doe (quality), R. Roe (production)",
    "problem_description": "Scale on the bar surface, lot rejected at incoming inspection",
    "containment": "Sorted all stock at our site and in transit",
    "root_cause": "Descaling bath below temperature on night shift",
    "corrective_action": "Bath temperature interlocked with the line start",
    "implementation": "Interlock live since week 12; 6 lots checked, no scale",
    "preventive_action": "Same interlock on the second line; control plan updated",
    "closure": "Team recognised; case closed at our side",
}


def upload(portal: Any, body: bytes, content_type: str, name: str) -> Any:
    return portal.post(
        "/supplier/v1/documents", params={"name": name}, content=body, headers={"Content-Type": content_type}
    )


def test_a_rejected_lot_reaches_the_supplier_who_answers_with_an_8d_and_documents(plant: Plant) -> None:
    supplier, other = plant.supplier(), plant.supplier()
    steel = plant.item("RM-BAR")
    lot_id = plant.receive(supplier, steel, 250)["lot_id"]
    plant.decide(lot_id, passed=False, disposition="block")
    plant.flow_done(lot_id=lot_id, type="usage_decision")

    with plant.portal(supplier) as portal, plant.portal(other) as stranger:
        # Issued by the plant's rule: the supplier sees it without anyone issuing it by hand.
        cases = eventually(lambda: ok(portal.get("/supplier/v1/cases"))["items"] or None)
        assert [(c["lot_ids"], c["status"], c["awaiting_response"]) for c in cases] == [
            ([lot_id], "issued", True)
        ]
        case_id = cases[0]["case_id"]

        report = upload(portal, PDF, "application/pdf", "8D-scale.pdf")
        assert report.status_code == 201, report.text
        document = report.json()
        assert (document["size"], document["sha256"]) == (len(PDF), hashlib.sha256(PDF).hexdigest())
        assert document["uploader"] == f"supplier:{supplier}"
        theirs = ok(upload(stranger, PDF, "application/pdf", "not-yours.pdf"), 201)["document_id"]

        too_big = upload(portal, b"%PDF-" + b"x" * PORTAL_DOCUMENT_LIMIT, "application/pdf", "big.pdf")
        assert too_big.status_code == 413
        wrong = upload(portal, b"#!/bin/sh\nrm -rf /\n", "application/x-sh", "run.sh")
        assert (wrong.status_code, wrong.json()["type"].rsplit(":", 1)[-1]) == (
            415,
            "document-type-not-accepted",
        )
        empty = upload(portal, b"", "text/plain", "empty.txt")  # the supplier's mistake, not an outage
        assert (empty.status_code, empty.json()["type"].rsplit(":", 1)[-1]) == (400, "document-empty")

        borrowed = portal.post(
            f"/supplier/v1/cases/{case_id}/response", json={**EIGHT_D, "attachments": [theirs]}
        )
        assert (borrowed.status_code, borrowed.json()["type"].rsplit(":", 1)[-1]) == (422, "unknown-document")

        answered = portal.post(
            f"/supplier/v1/cases/{case_id}/response",
            json={**EIGHT_D, "attachments": [document["document_id"]]},
        )
        assert answered.status_code == 200, answered.text
        shown = answered.json()["responses"][-1]
        assert {k: shown[k] for k in EIGHT_D} == EIGHT_D
        assert shown["attachments"] == [document["document_id"]]

    in_qms = ok(plant.qms.get(f"/qms/v2/supplier-cases/{case_id}"))
    assert in_qms["status"] == "response_received"
    assert in_qms["responses"][-1]["attachments"] == [document["document_id"]]
    content = plant.qms.get(f"/qms/v2/documents/{document['document_id']}/content")
    assert content.content == PDF
