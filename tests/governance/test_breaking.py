"""The breaking-change check: released major versions may not move under their clients."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest

from plantbridge.governance import documents as docs
from plantbridge.governance.breaking import breaking_changes
from plantbridge.governance.cli import breaking_against, diff


def _copy(name: str, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(docs.OPENAPI_DIR / name, folder / name)
    loaded: dict[str, Any] = docs.load(folder / name)
    return loaded


def _save(document: dict[str, Any], path: Path) -> None:
    path.write_text(docs.dumps(document), encoding="utf-8")


def test_the_committed_documents_break_no_released_one() -> None:
    assert breaking_against(docs.RELEASED_DIR, docs.OPENAPI_DIR) == []


def test_dropping_a_response_field_in_a_released_v1_fails_naming_the_field(tmp_path: Path) -> None:
    released, current = tmp_path / "released", tmp_path / "current"
    _copy("erp.v1.json", released)
    document = _copy("erp.v1.json", current)
    del document["components"]["schemas"]["Item"]["properties"]["description"]
    _save(document, current / "erp.v1.json")

    found = breaking_against(released, current)
    assert "erp.v1.json: GET /erp/v1/items/{item_id} 200: response field `description` removed" in found
    assert diff(released, current) == 1


def test_the_same_change_in_an_unreleased_v2_passes(tmp_path: Path) -> None:
    released, current = tmp_path / "released", tmp_path / "current"
    _copy("qms.v1.json", released)  # v1 is released, v2 is not
    _copy("qms.v1.json", current)
    document = _copy("qms.v2.json", current)
    ok = document["paths"]["/qms/v2/inspection-lots/{inspection_lot_id}"]["get"]["responses"]["200"]
    name = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    del document["components"]["schemas"][name]["properties"]["cancel_reason"]
    _save(document, current / "qms.v2.json")
    assert breaking_against(released, current) == []
    assert diff(released, current) == 0


@pytest.fixture
def items() -> dict[str, Any]:
    loaded: dict[str, Any] = docs.load(docs.OPENAPI_DIR / "erp.v1.json")
    return loaded


def _create_schema(document: dict[str, Any]) -> dict[str, Any]:
    ref = document["paths"]["/erp/v1/items"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ]
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def test_a_new_required_request_field_is_breaking(items: dict[str, Any]) -> None:
    new = copy.deepcopy(items)
    schema = _create_schema(new)
    schema["properties"]["plant"] = {"type": "string"}
    schema["required"] = [*schema.get("required", []), "plant"]
    assert "POST /erp/v1/items request: new required request field `plant`" in breaking_changes(items, new)


def test_a_tightened_constraint_is_breaking(items: dict[str, Any]) -> None:
    new = copy.deepcopy(items)
    schema = _create_schema(new)
    name = next(n for n, p in schema["properties"].items() if "maxLength" in str(p))
    prop = schema["properties"][name]
    target = prop if "maxLength" in prop else next(v for v in prop.get("oneOf", []) if "maxLength" in v)
    target["maxLength"] = 1
    assert any(f"request field `{name}` maxLength tightened" in m for m in breaking_changes(items, new))


def test_a_pattern_that_refuses_a_final_newline_reads_as_the_same_pattern(items: dict[str, Any]) -> None:
    """`(?!\\n)$` (what `kit.patterns.whole` writes) is `$` to a JSON Schema reader, not a change; any
    other change of a pattern still is."""
    prop = _create_schema(items)["properties"]["item_id"]
    assert prop["pattern"].endswith("(?!\\n)$")
    released = copy.deepcopy(items)
    _create_schema(released)["properties"]["item_id"]["pattern"] = (
        prop["pattern"].removesuffix("(?!\\n)$") + "$"
    )
    assert breaking_changes(released, items) == []
    _create_schema(released)["properties"]["item_id"]["pattern"] = "^[A-Z]+$"
    assert any("request field `item_id` pattern changed" in m for m in breaking_changes(released, items))


def test_refusing_only_nul_is_no_break_but_any_other_new_pattern_is(items: dict[str, Any]) -> None:
    """PostgreSQL cannot store a NUL in text: no request holding one ever succeeded."""
    new = copy.deepcopy(items)
    description = _create_schema(new)["properties"]["description"]
    assert "pattern" in str(description)  # Text refuses NUL
    released = copy.deepcopy(new)
    _drop_patterns(_create_schema(released)["properties"]["description"])
    assert breaking_changes(released, new) == []
    _create_schema(new)["properties"]["description"] = {**description, "pattern": "^[a-z ]*(?!\\n)$"}
    assert any("request field `description` pattern added" in m for m in breaking_changes(released, new))


def _drop_patterns(schema: dict[str, Any]) -> None:
    schema.pop("pattern", None)
    for variant in schema.get("oneOf", []):
        variant.pop("pattern", None)


def test_removed_paths_operations_types_and_enum_values_are_breaking(items: dict[str, Any]) -> None:
    new = copy.deepcopy(items)
    del new["paths"]["/erp/v1/items"]["get"]
    schemas = new["components"]["schemas"]
    schemas["Item"]["properties"]["version"] = {"type": "string"}
    enum_owner = next(s for s in schemas.values() if "enum" in s)
    removed = enum_owner["enum"].pop()
    found = breaking_changes(items, new)
    assert "GET /erp/v1/items: operation removed" in found
    assert any("response field `version` type changed from integer to string" in m for m in found)
    assert any(f"enum value(s) {removed!r} removed" in m for m in found)
    del new["paths"]["/erp/v1/items"]
    assert "/erp/v1/items: path removed" in breaking_changes(items, new)


def test_additions_are_not_breaking(items: dict[str, Any]) -> None:
    new = copy.deepcopy(items)
    new["components"]["schemas"]["Item"]["properties"]["plant"] = {"type": "string"}
    new["paths"]["/erp/v1/plants"] = {"get": {"summary": "new"}}
    assert breaking_changes(items, new) == []


def _status_parameter(document: dict[str, Any]) -> dict[str, Any]:
    parameters = document["paths"]["/erp/v1/purchase-orders"]["get"]["parameters"]
    found: dict[str, Any] = next(p for p in parameters if p["name"] == "status")
    return found


def test_a_query_parameter_taking_several_values_of_its_one_is_not_breaking(items: dict[str, Any]) -> None:
    """`?status=open` reads the same whether `status` is one value or repeatable: clients of one
    value keep working. Other item types, a least number of values, values joined by commas, or
    what was not one plain value before, still break."""
    scalar = copy.deepcopy(items)
    status = _status_parameter(scalar)
    status["schema"] = {"oneOf": [status["schema"]["oneOf"][0]["items"], {"type": "null"}]}
    assert breaking_changes(scalar, items) == []

    assert any("(query) status` type changed" in m for m in breaking_changes(items, scalar))
    of_numbers = copy.deepcopy(items)
    _status_parameter(of_numbers)["schema"]["oneOf"][0]["items"] = {"type": "integer"}
    assert any("(query) status` type changed" in m for m in breaking_changes(scalar, of_numbers))
    at_least_two = copy.deepcopy(items)
    _status_parameter(at_least_two)["schema"]["oneOf"][0]["minItems"] = 2  # one value alone refused
    assert any("(query) status` type changed" in m for m in breaking_changes(scalar, at_least_two))
    an_object = copy.deepcopy(scalar)
    _status_parameter(an_object)["schema"] = {"type": "object", "properties": {"a": {"type": "string"}}}
    _status_parameter(an_object)["style"] = "deepObject"  # ?status[a]=x is no array's value
    assert any("(query) status` type changed" in m for m in breaking_changes(an_object, items))
    comma_separated = copy.deepcopy(items)
    _status_parameter(comma_separated)["explode"] = False  # ?status=a,b would split an old value's commas
    assert any("(query) status` type changed" in m for m in breaking_changes(scalar, comma_separated))
