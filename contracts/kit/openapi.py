"""OpenAPI generation that says exactly what the server enforces."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

_NUMERIC = (msgspec.inspect.IntType, msgspec.inspect.FloatType)
_ARRAYS = (msgspec.inspect.ListType, msgspec.inspect.SetType, msgspec.inspect.FrozenSetType)


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Two gaps in Litestar 2.25's Struct schemas make contract tests see schema-valid requests
    rejected: `forbid_unknown_fields` is not emitted as `additionalProperties: false`, and numeric
    bounds equal to zero (`ge=0`, `gt=0`) are dropped as if unset. Both are filled in here."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema):
                _copy_numeric_bounds(field.type, prop)
                _copy_string_item_constraints(field.type, prop)
        return schema


def _copy_numeric_bounds(field_type: msgspec.inspect.Type, prop: Schema) -> None:
    members = field_type.types if isinstance(field_type, msgspec.inspect.UnionType) else (field_type,)
    for member in members:
        if isinstance(member, _NUMERIC):
            if member.ge is not None:
                prop.minimum = member.ge
            if member.gt is not None:
                prop.exclusive_minimum = member.gt
            if member.le is not None:
                prop.maximum = member.le
            if member.lt is not None:
                prop.exclusive_maximum = member.lt


def _copy_string_item_constraints(field_type: msgspec.inspect.Type, prop: Schema) -> None:
    """`list[Id]` loses the item's pattern and lengths in Litestar's schema; put them back."""
    members = field_type.types if isinstance(field_type, msgspec.inspect.UnionType) else (field_type,)
    arrays = [prop, *(s for s in prop.one_of or () if isinstance(s, Schema))]
    for member in members:
        if not (isinstance(member, _ARRAYS) and isinstance(member.item_type, msgspec.inspect.StrType)):
            continue
        item = member.item_type
        for array in arrays:
            if array.type == OpenAPIType.ARRAY and isinstance(array.items, Schema):
                if item.pattern is not None:
                    array.items.pattern = item.pattern
                if item.min_length is not None:
                    array.items.min_length = item.min_length
                if item.max_length is not None:
                    array.items.max_length = item.max_length


# "/qms/v2/inspection-lots" -> service "qms", major 2
MAJOR_PATH = re.compile(r"^/(?P<service>[^/]+)/v(?P<major>\d+)(/|$)")


def split_by_major(
    document: dict[str, Any], service: str, versions: dict[int, str]
) -> dict[int, dict[str, Any]]:
    """One document per major version in the paths, each with only the components it uses."""
    majors: dict[int, dict[str, Any]] = {}
    for path, item in document.get("paths", {}).items():
        match = MAJOR_PATH.match(path)
        if match and match["service"] == service:
            majors.setdefault(int(match["major"]), {})[path] = item
    result = {}
    for major, paths in majors.items():
        doc = {key: value for key, value in document.items() if key not in ("paths", "components")}
        doc["info"] = {**document.get("info", {}), "version": versions.get(major, f"{major}.0.0")}
        doc["paths"] = paths
        doc["components"] = _used_components(document.get("components", {}), paths)
        result[major] = doc
    return result


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _used_components(components: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    """Components reachable from `paths` through $refs; security schemes always stay."""
    kept: dict[str, dict[str, Any]] = {}
    pending = _refs(paths)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen or not ref.startswith("#/components/"):
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = components.get(kind, {}).get(name)
        if target is not None:
            kept.setdefault(kind, {})[name] = target
            pending |= _refs(target)
    if "securitySchemes" in components:
        kept["securitySchemes"] = components["securitySchemes"]
    return kept


def major_document_handler(service: str, api_path: str, version: str) -> HTTPRouteHandler:
    """`GET <api_path>/schema/openapi.json`: the document of one major version only, so a partner
    on v2 reads v2 (the app's whole document, every version, is at `/<service>/schema`)."""
    major = int(api_path.rsplit("/v", 1)[1])
    built: list[bytes] = []

    @get(f"{api_path}/schema/openapi.json", include_in_schema=False, sync_to_thread=False)
    def document(request: Request[Any, Any, Any]) -> Response[bytes]:
        if not built:  # after start-up hooks have finished the app's document
            whole = request.app.openapi_schema.to_schema()
            built.append(msgspec.json.encode(split_by_major(whole, service, {major: version})[major]))
        return Response(built[0], media_type="application/vnd.oai.openapi+json")

    return document
