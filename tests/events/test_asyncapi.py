"""The committed AsyncAPI document is exactly what the event Structs generate."""

from __future__ import annotations

import json

from contracts import asyncapi


def test_committed_document_matches_the_event_structs() -> None:
    committed = asyncapi.DOCUMENT.read_text(encoding="utf-8")
    assert committed == asyncapi.render(), "stale: run `python -m contracts.asyncapi` and commit the result"


def test_every_catalogued_event_is_a_message_on_its_stream_channel() -> None:
    doc = json.loads(asyncapi.render())
    assert doc["asyncapi"] == "3.0.0"
    catalogue = asyncapi.load_catalogue()
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert names == set(catalogue)
    for event_type in catalogue.values():
        channel = doc["channels"][event_type.stream.replace(".", "_")]
        assert channel["address"] == event_type.stream
        message = doc["components"]["messages"][event_type.name.replace(".", "_")]
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        assert data_ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"]


def test_all_references_resolve() -> None:
    doc = json.loads(asyncapi.render())

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        target: object = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict), f"unresolved {ref}"
            assert part in target, f"unresolved {ref}"
            target = target[part]
