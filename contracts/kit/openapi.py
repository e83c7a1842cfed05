"""OpenAPI generation that says exactly what the server enforces."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
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
