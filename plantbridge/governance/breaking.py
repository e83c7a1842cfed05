"""Breaking changes between a released OpenAPI document and the current one of the same major.

What a client written against the released document relies on: every path and operation stays;
requests it could send stay valid (no new required field or parameter, no tightened constraint,
no narrowed type, no dropped enum value); responses keep every field it reads, with the same
type, and every documented success status. $refs are resolved in their own document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contracts.kit.patterns import END as WHOLE_END

_NO_NUL = r"^[^\x00]*$"

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Constraint -> True when a larger new value is tighter.
_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")


class _Doc:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, node: Any) -> Any:
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                return {}
            seen.add(ref)
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = (
                    target.get(part.replace("~1", "/").replace("~0", "~"), {})
                    if isinstance(target, dict)
                    else {}
                )
            node = target
        return node

    def variants(self, schema: Any) -> list[dict[str, Any]]:
        """The alternatives a schema allows (oneOf/anyOf flattened, refs resolved)."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return []
        options = schema.get("oneOf") or schema.get("anyOf")
        if options:
            return [v for option in options for v in self.variants(option)]
        return [schema]


def _types(variants: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for v in variants:
        declared = v.get("type")
        if isinstance(declared, list):
            found.update(declared)
        elif isinstance(declared, str):
            found.add(declared)
        elif "properties" in v:
            found.add("object")
        elif not v:
            found.add("any")
    if "number" in found:
        found.add("integer")  # an integer is a number: int -> number widens, number -> int narrows
    return found


def _object(variants: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((v for v in variants if "properties" in v), None)


def _array(variants: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((v for v in variants if v.get("type") == "array" or "items" in v), None)


def _merged(variants: list[dict[str, Any]], key: str) -> Any:
    return next((v[key] for v in variants if key in v), None)


def _as_read(pattern: Any) -> Any:
    """The pattern as it bears on a client. The ending `(?!\\n)$` that `kit.patterns.whole` writes
    for Python is, in ECMA-262 (which JSON Schema readers use), the same as `$`. A pattern that
    refuses only NUL is as none: PostgreSQL cannot store a NUL in text, so no request holding one
    ever succeeded, and refusing it at the door breaks no client."""
    if not isinstance(pattern, str):
        return pattern
    if pattern.endswith(WHOLE_END):
        pattern = pattern[: -len(WHOLE_END)] + "$"
    return None if pattern == _NO_NUL else pattern


class _Comparer:
    def __init__(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.old = _Doc(old)
        self.new = _Doc(new)
        self._active: set[tuple[int, int, str]] = set()

    def schema(self, old: Any, new: Any, where: str, field: str, request: bool) -> Iterator[str]:
        key = (id(self.old.resolve(old)), id(self.new.resolve(new)), field)
        if key in self._active:  # recursive schemas: compared once per path
            return
        self._active.add(key)
        try:
            yield from self._schema(self.old.variants(old), self.new.variants(new), where, field, request)
        finally:
            self._active.discard(key)

    def _schema(
        self, old: list[dict[str, Any]], new: list[dict[str, Any]], where: str, field: str, request: bool
    ) -> Iterator[str]:
        label = (
            f"{'request' if request else 'response'} field `{field}`"
            if field
            else ("request body" if request else "response body")
        )
        old_types, new_types = _types(old), _types(new)
        if "any" not in old_types and "any" not in new_types:
            lost = old_types - new_types if request else new_types - old_types
            if lost:
                yield f"{where}: {label} type changed from {_fmt(old_types)} to {_fmt(new_types)}"
                return
        old_enum, new_enum = _merged(old, "enum"), _merged(new, "enum")
        if isinstance(old_enum, list) and isinstance(new_enum, list):
            removed = [v for v in old_enum if v not in new_enum]
            if removed:
                yield f"{where}: {label} enum value(s) {', '.join(map(repr, removed))} removed"
        elif new_enum is not None and old_enum is None and request:
            yield f"{where}: {label} restricted to enum values {new_enum!r}"
        if request:
            yield from self._constraints(old, new, where, label)
        old_obj, new_obj = _object(old), _object(new)
        if old_obj is not None and new_obj is not None:
            yield from self._properties(old_obj, new_obj, where, field, request)
        old_arr, new_arr = _array(old), _array(new)
        if old_arr is not None and new_arr is not None and "items" in old_arr and "items" in new_arr:
            yield from self.schema(old_arr["items"], new_arr["items"], where, f"{field}[]", request)

    def _properties(
        self, old: dict[str, Any], new: dict[str, Any], where: str, field: str, request: bool
    ) -> Iterator[str]:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
        prefix = f"{field}." if field else ""
        for name in sorted(old_props):
            path = prefix + name
            if name not in new_props:
                if not request:
                    yield f"{where}: response field `{path}` removed"
                elif new.get("additionalProperties") is False:
                    yield f"{where}: request field `{path}` removed (no longer accepted)"
                continue
            if not request and name in old_req and name not in new_req:
                yield f"{where}: response field `{path}` is no longer always present"
            yield from self.schema(old_props[name], new_props[name], where, path, request)
        if request:
            for name in sorted(new_req - old_req):
                yield f"{where}: new required request field `{prefix + name}`"

    def _constraints(
        self, old: list[dict[str, Any]], new: list[dict[str, Any]], where: str, label: str
    ) -> Iterator[str]:
        for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
            before, after = _merged(old, key), _merged(new, key)
            if after is None or isinstance(after, bool) or isinstance(before, bool):
                continue
            tighter = before is None or (after > before if key in _LOWER_BOUNDS else after < before)
            if tighter:
                yield f"{where}: {label} {key} tightened from {before} to {after}"
        before, after = _as_read(_merged(old, "pattern")), _as_read(_merged(new, "pattern"))
        if after is not None and after != before:
            yield f"{where}: {label} pattern {'added' if before is None else 'changed'}: {after}"

    def operation(self, where: str, old: dict[str, Any], new: dict[str, Any]) -> Iterator[str]:
        yield from self._parameters(where, old.get("parameters", []), new.get("parameters", []))
        old_body = self.old.resolve(old.get("requestBody", {})) or {}
        new_body = self.new.resolve(new.get("requestBody", {})) or {}
        if new_body.get("required") and not old_body.get("required"):
            yield f"{where}: request body is now required"
        for media, content in old_body.get("content", {}).items():
            other = new_body.get("content", {}).get(media)
            if other is None:
                if new_body:
                    yield f"{where}: request body media type {media} no longer accepted"
                continue
            yield from self.schema(content.get("schema"), other.get("schema"), f"{where} request", "", True)
        for status, response in old.get("responses", {}).items():
            if not str(status).startswith("2"):
                continue  # problems may be added or reworded; success shapes may not move
            other = new.get("responses", {}).get(status)
            if other is None:
                yield f"{where}: response {status} removed"
                continue
            old_content = self.old.resolve(response).get("content", {})
            new_content = self.new.resolve(other).get("content", {})
            for media, content in old_content.items():
                if media not in new_content:
                    yield f"{where} {status}: response media type {media} removed"
                    continue
                yield from self.schema(
                    content.get("schema"), new_content[media].get("schema"), f"{where} {status}", "", False
                )

    def _parameters(self, where: str, old: list[Any], new: list[Any]) -> Iterator[str]:
        olds = {(p["in"], p["name"]): p for p in map(self.old.resolve, old)}
        news = {(p["in"], p["name"]): p for p in map(self.new.resolve, new)}
        for key, param in sorted(news.items()):
            if param.get("required") and not olds.get(key, {}).get("required"):
                yield f"{where}: new required {key[0]} parameter `{key[1]}`"
        for key, param in sorted(olds.items()):
            if key in news:
                field = f"({key[0]}) {key[1]}"
                old_schema, new_schema = param.get("schema"), news[key].get("schema")
                if _repeatable(news[key]) and _types(self.old.variants(old_schema)) <= _PRIMITIVE:
                    new_schema = self._one_value_of(new_schema)
                yield from self.schema(old_schema, new_schema, where, field, True)

    def _one_value_of(self, schema: Any) -> Any:
        """What a repeatable query parameter takes in one occurrence: an old client's single value
        (`?status=open`) reads the same as an array of one, so a scalar that became an array of
        the same values is no break (its items are compared instead)."""
        variants = self.new.variants(schema)
        array = _array(variants)
        if array is None or "items" not in array:
            return schema
        if array.get("minItems", 0) > 1 or array.get("maxItems", 1) < 1:
            return schema  # one value alone is refused: compared as an array, that breaks
        return {"oneOf": [array["items"], *(v for v in variants if v is not array)]}


_PRIMITIVE = {"string", "number", "integer", "boolean", "null"}


def _repeatable(param: dict[str, Any]) -> bool:
    """A query parameter sent once per value (`form` style, exploded: OpenAPI's default)."""
    return param.get("in") == "query" and param.get("style", "form") == "form" and param.get("explode", True)


def _fmt(types: set[str]) -> str:
    return "/".join(sorted(types - {"integer"} if "number" in types else types))


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Every way `new` breaks a client of `old`, as messages naming the operation and field."""
    comparer = _Comparer(old, new)
    found: list[str] = []
    new_paths = new.get("paths", {})
    for path, item in sorted(old.get("paths", {}).items()):
        if path not in new_paths:
            found.append(f"{path}: path removed")
            continue
        for method in METHODS:
            if method not in item:
                continue
            where = f"{method.upper()} {path}"
            if method not in new_paths[path]:
                found.append(f"{where}: operation removed")
                continue
            found.extend(comparer.operation(where, item[method], new_paths[path][method]))
    return found
