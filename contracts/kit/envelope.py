"""CloudEvents 1.0 structured envelope and the catalogue of event types.

An event's `data` is a msgspec Struct registered under its CloudEvents `type`
(`<system>.<entity>.<event>.v<major>`); consumers decode the envelope first and the data by
its type, and tolerate fields they do not know. The catalogue is a mechanism of the kit (the
outbox and consumers use it); the platform's events register themselves in it from
`contracts/events/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec


class CloudEvent(msgspec.Struct, kw_only=True):
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: Any
    specversion: str = "1.0"
    datacontenttype: str = "application/json"
    correlationid: str = ""
    causationid: str = ""
    traceparent: str = ""


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    stream: str
    data: type[msgspec.Struct]
    description: str


CATALOGUE: dict[str, EventType] = {}
T = TypeVar("T", bound=type[msgspec.Struct])


def event(name: str, stream: str, description: str) -> Any:
    """Register a data Struct as the payload of CloudEvents type `name` on `stream`."""

    def register(cls: T) -> T:
        if name in CATALOGUE and CATALOGUE[name].data is not cls:
            raise ValueError(f"event type {name} registered twice")
        CATALOGUE[name] = EventType(name=name, stream=stream, data=cls, description=description)
        cls.__event_type__ = name  # type: ignore[attr-defined]
        return cls

    return register


def type_of(data: msgspec.Struct) -> EventType:
    name = getattr(type(data), "__event_type__", None)
    if name is None:
        raise TypeError(f"{type(data).__name__} is not a registered event payload")
    return CATALOGUE[name]


def encode(envelope: CloudEvent) -> bytes:
    return msgspec.json.encode(envelope)


class _RawEnvelope(CloudEvent, kw_only=True):
    data: msgspec.Raw


def decode(payload: bytes) -> CloudEvent:
    """Decode an envelope and, when its type is known, its data into the registered Struct."""
    raw = msgspec.json.decode(payload, type=_RawEnvelope)
    known = CATALOGUE.get(raw.type)
    data: Any = msgspec.json.decode(raw.data, type=known.data) if known else msgspec.json.decode(raw.data)
    return CloudEvent(**{f: getattr(raw, f) for f in raw.__struct_fields__ if f != "data"}, data=data)
