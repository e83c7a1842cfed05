"""The governance lint holds every operation with query parameters to the kernel's strictness:
its document says an unknown parameter is refused (400, `unknown-query-parameter`)."""

from __future__ import annotations

from typing import Any

from contracts.kit.strict_query import SLUG
from plantbridge.governance import documents as docs
from plantbridge.governance.lint import lint

LIST_LOTS = "GET /erp/v1/lots"


def test_every_committed_operation_with_query_parameters_documents_the_refusal() -> None:
    operations = [
        op
        for document in map(docs.load, docs.committed().values())
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and any(p.get("in") == "query" for p in op.get("parameters", []))
    ]
    assert len(operations) > 40
    assert all(SLUG in op["responses"]["400"]["description"] for op in operations)


def test_the_lint_catches_a_list_that_does_not_say_it_refuses_unknown_parameters() -> None:
    doc: dict[str, Any] = docs.load(docs.OPENAPI_DIR / "erp.v1.json")
    doc["paths"]["/erp/v1/lots"]["get"]["responses"]["400"]["description"] = "Bad request"
    assert any(f.startswith(f"{LIST_LOTS}: query: 400 does not say") for f in lint(doc))
