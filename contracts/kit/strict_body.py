"""JSON request bodies are decoded strictly, as the OpenAPI document describes them.

Litestar converts request data with msgspec's lax rules (`"5"` becomes 5, `0` becomes false),
so a body the schema calls invalid would be accepted. This before-request hook converts a
Struct body strictly first and answers a mismatch with the usual 400 validation problem.
JSON Schema counts `5.0` as an integer, so integral floats are kept acceptable for int fields.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

_AT = " - at `$"


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    field = request.route_handler.parsed_data_field
    target = field.annotation if field is not None else None
    if not (isinstance(target, type) and issubclass(target, msgspec.Struct)):
        return
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()
    if not body.strip():
        return
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return  # malformed JSON: Litestar's own decoding answers it
    try:
        msgspec.convert(_integral_floats_as_ints(raw), target, strict=True)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(_AT)
        key = where.rstrip("`").lstrip(".")
        raise ValidationException(
            detail=f"Validation failed for {request.method} {request.url.path}",
            extra=[{"message": message, "key": key, "source": "body"}],
        ) from exc


def _integral_floats_as_ints(value: Any) -> Any:
    # Strict conversion still takes an int where a float is wanted, so this loses nothing.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    return value


__all__ = ["strict_json_body"]
