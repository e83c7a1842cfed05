"""The governance lint holds every JSON request body to what the kernel enforces (415, 413, 400)."""

from __future__ import annotations

from typing import Any

from plantbridge.governance import documents as docs
from plantbridge.governance.lint import lint

CREATE_ITEM = "POST /erp/v1/items"


def _erp() -> dict[str, Any]:
    document: dict[str, Any] = docs.load(docs.OPENAPI_DIR / "erp.v1.json")
    return document


def test_every_committed_operation_with_a_body_documents_413_and_415() -> None:
    operations = [
        op
        for document in map(docs.load, docs.committed().values())
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "requestBody" in op
    ]
    assert len(operations) > 50
    assert all({"400", "413", "415"} <= set(op["responses"]) for op in operations)


def test_the_lint_catches_an_undocumented_415_and_413() -> None:
    doc = _erp()
    responses = doc["paths"]["/erp/v1/items"]["post"]["responses"]
    del responses["415"], responses["413"]
    found = lint(doc)
    assert f"{CREATE_ITEM}: body: 415 not documented for a request body" in found
    assert f"{CREATE_ITEM}: body: 413 not documented for a request body" in found


def test_the_lint_catches_a_body_that_is_not_json() -> None:
    doc = _erp()
    content = doc["paths"]["/erp/v1/items"]["post"]["requestBody"]["content"]
    content["text/plain"] = content["application/json"]
    assert f"{CREATE_ITEM}: body: text/plain is not a JSON media type" in lint(doc)


def test_a_file_upload_may_take_its_own_media_type_but_not_a_json_schema_under_it() -> None:
    doc = _erp()
    content = doc["paths"]["/erp/v1/items"]["post"]["requestBody"]["content"]
    content["application/pdf"] = {"schema": {"type": "string", "format": "binary"}}
    content["image/png"] = content["application/json"]  # an object, not a file
    found = lint(doc)
    assert f"{CREATE_ITEM}: body: application/pdf is not a JSON media type" not in found
    assert f"{CREATE_ITEM}: body: image/png is not a JSON media type" in found


def test_the_lint_catches_a_pattern_that_lets_python_accept_a_final_newline() -> None:
    """A bare `$` lets Python's re.search (msgspec, Litestar) accept `"X-1\\n"` though the
    document (ECMA-262) refuses it; the lint holds every document to `kit.patterns.whole`."""
    doc = _erp()
    schemas = doc["components"]["schemas"]
    schemas["ItemCreate"]["properties"]["item_id"]["pattern"] = "^[A-Z]+$"
    assert lint(doc) == [
        "#/components/schemas/ItemCreate/properties/item_id: pattern ^[A-Z]+$ ends in a bare $"
        " (write it with kit.patterns.whole)"
    ]
    assert lint(_erp()) == []
