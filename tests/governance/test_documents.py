"""The committed OpenAPI documents are what the services generate, and pass the governance lint."""

from __future__ import annotations

import copy

from plantbridge.governance import documents as docs
from plantbridge.governance.cli import drift, first_difference
from plantbridge.governance.lint import lint


def test_committed_documents_match_the_generated_ones() -> None:
    build = docs.build_all()
    assert build.errors == {}, "every service's app must build"
    assert drift(build.documents, docs.OPENAPI_DIR, set()) == []


def test_first_difference_names_the_path() -> None:
    old = {"paths": {"/a": {"get": {"summary": "x"}}}}
    new = copy.deepcopy(old)
    new["paths"]["/a"]["get"]["summary"] = "y"
    assert first_difference(old, new) == "/paths/~1a/get/summary"


def test_the_real_documents_pass_the_lint() -> None:
    committed = docs.committed()
    assert committed, "no committed documents"
    for name, path in committed.items():
        assert lint(docs.load(path)) == [], name


def _erp() -> dict:  # type: ignore[type-arg]
    return docs.load(docs.OPENAPI_DIR / "erp.v1.json")  # type: ignore[no-any-return]


def test_the_lint_catches_a_missing_security_requirement() -> None:
    doc = _erp()
    del doc["paths"]["/erp/v1/items"]["get"]["security"]
    assert "GET /erp/v1/items: security: no security requirement" in lint(doc)


def test_the_lint_catches_scopeless_security_and_a_non_problem_4xx() -> None:
    doc = _erp()
    op = doc["paths"]["/erp/v1/items/{item_id}"]["get"]
    op["security"] = [{"oauth2": []}]
    op["responses"]["404"]["content"] = {"application/json": op["responses"]["404"]["content"].popitem()[1]}
    found = lint(doc)
    assert "GET /erp/v1/items/{item_id}: security: requirement `oauth2` names no scopes" in found
    assert "GET /erp/v1/items/{item_id}: problems: 404 is not application/problem+json" in found


def test_the_lint_catches_a_list_without_the_page_shape() -> None:
    doc = _erp()
    op = doc["paths"]["/erp/v1/items"]["get"]
    op["parameters"] = [p for p in op["parameters"] if p["name"] != "cursor"]
    found = lint(doc)
    assert "GET /erp/v1/items: pagination: no `cursor` query parameter" in found


def test_the_lint_catches_a_missing_operation_id_and_description() -> None:
    doc = _erp()
    op = doc["paths"]["/erp/v1/items"]["get"]
    for key in ("operationId", "summary", "description"):
        op.pop(key, None)
    found = lint(doc)
    assert "GET /erp/v1/items: operation: no operationId" in found
    assert "GET /erp/v1/items: operation: neither summary nor description" in found
