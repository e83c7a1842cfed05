"""From an external payload to a command's fields, by a source's configured mapping."""

from __future__ import annotations

from typing import Any

import msgspec

from connectors.webhooks.inbound.commands import COMMANDS, invalid
from connectors.webhooks.inbound.sources import Mapping

_MISSING = object()


def pointer(document: Any, path: str) -> Any:
    """RFC 6901: the value at `path`, or _MISSING."""
    if path == "":
        return document
    here = document
    for raw in path.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(here, dict) and token in here:
            here = here[token]
        elif isinstance(here, list) and token.isascii() and token.isdigit() and int(token) < len(here):
            here = here[int(token)]
        else:
            return _MISSING
    return here


def event_type(payload: Any, type_pointer: str) -> str | None:
    found = pointer(payload, type_pointer)
    return found if isinstance(found, str) else None


def _translate(mapping: Mapping, field: str, value: Any) -> Any:
    table = mapping.values.get(field)
    if table is None or value is None:
        return value
    key = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    if key not in table:
        raise invalid(f"{field}: {value!r} is none of {sorted(table)}")
    return table[key]


def apply_mapping(mapping: Mapping, payload: Any) -> dict[str, Any]:
    """The command's fields, each of the type the command declares for it. An absent or null
    value leaves its field out; a required field left out, or a value of another type, is refused
    (422) here, before the command calls anything."""
    command = COMMANDS[mapping.command]  # the sources file was checked: the command exists
    fields: dict[str, Any] = {}
    for field, path in mapping.fields.items():
        value = pointer(payload, path)
        if value is _MISSING or value is None:
            continue
        if mapping.item_fields and isinstance(value, list):
            value = [_item(mapping, element) for element in value]
        fields[field] = _typed(field, path, _translate(mapping, field, value), command.fields[field])
    missing = [f"{f} (at {mapping.fields[f]})" for f in sorted(command.required - fields.keys())]
    if missing:
        raise invalid(f"the payload has no {', '.join(missing)}")
    return fields


def _typed(field: str, path: str, value: Any, shape: Any) -> Any:
    # A partner's payload may hold anything in any place: without this a command would fail on
    # it (iterating a number, reading a string as an object: a 500), or send it on as it is.
    # Strict: no "5" taken for 5, no 0 for false.
    try:
        return msgspec.convert(value, shape, strict=True)
    except msgspec.ValidationError as exc:
        raise invalid(f"{field} (at {path}): {exc}") from exc


def _item(mapping: Mapping, element: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, path in mapping.item_fields.items():
        value = pointer(element, path)
        if value is not _MISSING:
            out[field] = _translate(mapping, field, value)
    return out
