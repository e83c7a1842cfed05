"""The AsyncAPI 3 document of every Plantbridge event, generated from the event Structs.

`python -m contracts.asyncapi` rewrites `contracts/asyncapi/plantbridge.asyncapi.json`;
`--check` exits 1 when the committed document is stale (a test does the same).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path
from typing import Any

import msgspec

import contracts.events
from contracts.kit.envelope import CATALOGUE, CloudEvent, EventType

DOCUMENT = Path(__file__).parent / "asyncapi" / "plantbridge.asyncapi.json"
_SCHEMAS = "#/components/schemas/{name}"


def load_catalogue() -> dict[str, EventType]:
    """Import every module under contracts.events so each registers its event types."""
    for module in pkgutil.iter_modules(contracts.events.__path__):
        importlib.import_module(f"contracts.events.{module.name}")
    return CATALOGUE


def build() -> dict[str, Any]:
    types = sorted(load_catalogue().values(), key=lambda t: t.name)
    refs, schemas = msgspec.json.schema_components(
        [CloudEvent, *(t.data for t in types)], ref_template=_SCHEMAS
    )
    envelope_ref, data_refs = refs[0], refs[1:]
    # The envelope's own `data` is "any"; each message narrows it to its Struct.
    schemas["CloudEvent"]["description"] = (
        "CloudEvents 1.0, structured JSON mode, with the extensions correlationid, causationid "
        "and traceparent."
    )

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for event_type, data_ref in zip(types, data_refs, strict=True):
        key = _id(event_type.name)
        messages[key] = {
            "name": event_type.name,
            "title": event_type.data.__name__,
            "summary": event_type.description,
            "contentType": "application/cloudevents+json",
            "correlationId": {
                "description": "Correlation id shared by every request and event of one business flow.",
                "location": "$message.payload#/correlationid",
            },
            "payload": {
                "allOf": [
                    envelope_ref,
                    {
                        "type": "object",
                        "required": ["type", "data"],
                        "properties": {"type": {"const": event_type.name}, "data": data_ref},
                    },
                ]
            },
        }
        channel = channels.setdefault(
            _id(event_type.stream),
            {
                "address": event_type.stream,
                "title": event_type.stream,
                "description": (
                    f"Redis stream {event_type.stream}. Each entry has the fields `id` (event id), `type` "
                    "(CloudEvents type) and `event` (the CloudEvent as JSON). Consumers read it through "
                    f"consumer groups; messages that keep failing move to {event_type.stream}.dlq."
                ),
                "messages": {},
            },
        )
        channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}

    for channel_id, channel in channels.items():
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "title": f"Publish to {channel['address']}",
            "summary": "The owning service's outbox relay publishes committed events, in outbox order.",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel["messages"]],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Plantbridge events",
            "version": "1.0.0",
            "description": (
                "Every event Plantbridge services publish: CloudEvents 1.0 on Redis Streams, one stream per "
                "source system. Delivery is at least once; consumers drop duplicates by event id."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "embedded": {
                "host": "127.0.0.1:6380",
                "protocol": "redis",
                "description": "The Redis server `plantbridge up` starts (append-only persistence).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def _id(name: str) -> str:
    """Channel, operation and message ids may not contain dots."""
    return name.replace(".", "_")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = DOCUMENT.read_text(encoding="utf-8") if DOCUMENT.exists() else ""
        if current != text:
            print(f"{DOCUMENT} is stale: run python -m contracts.asyncapi", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(text, encoding="utf-8")
    print(f"wrote {DOCUMENT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
