"""JSON request bodies: JSON media types only, nesting within a limit, decoded strictly.

Every route whose handler takes a body (`data`) is a JSON endpoint. Before anything parses it:
- a body whose `Content-Type` is not `application/json` or `application/<something>+json` is a
  415: read as JSON anyway, it would skip the checks a client chose by its media type;
- a body nested deeper than `json_max_depth` (setting `<SERVICE>_JSON_MAX_DEPTH`, default 32) is
  a 400 naming the limit. The depth is counted without recursion, so no body can exhaust the
  stack of the decoder or of anything walking the decoded value. (The size limit,
  `<SERVICE>_MAX_BODY_BYTES`, is Litestar's and answers 413.)

Litestar then converts request data with msgspec's lax rules (`"5"` becomes 5, `0` becomes
false), so a body the schema calls invalid would be accepted: a Struct body is converted strictly
here first, and a mismatch is the usual 400 validation problem. JSON Schema counts `5.0` as an
integer, so integral floats stay acceptable for int fields.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import BodyKwarg
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from contracts.kit.problems import Problem
from contracts.kit.responses import problems

_AT = " - at `$"
_JSON_MEDIA_TYPE = re.compile(r"^application/(?:[!#$&^_.+\-a-z0-9]+\+)?json$")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class TooDeep(Problem):
    slug, title = "json-too-deep", "JSON nested too deeply"


def is_json_media_type(content_type: str) -> bool:
    return bool(_JSON_MEDIA_TYPE.match(content_type.partition(";")[0].strip().lower()))


def refuse_deeper_than(body: bytes, limit: int) -> None:
    """400 json-too-deep when `body` nests arrays and objects deeper than `limit`."""
    if json_deeper_than(body, limit):
        raise TooDeep(f"JSON bodies may nest arrays and objects at most {limit} levels deep.")


def json_deeper_than(body: bytes, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels deep in `body`, found without
    recursion and at C speed: escapes and strings are cut out, brackets folded to one kind, and
    each pass of `replace` removes the innermost level. Malformed input errs towards "deeper"."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = b"".join(unescaped.split(b'"')[::2])  # outside the quotes of each string
    brackets = structure.translate(_SQUARE, _NOT_BRACKETS)
    levels = 0
    while b"[]" in brackets:
        # limit + 1 openers in a row, or as many passes as the limit, are too deep already.
        if levels == limit or b"[" * (limit - levels + 1) in brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
        levels += 1
    # Left over: unbalanced brackets (malformed JSON), closers then openers; a decoder could
    # still descend into the openers before it fails.
    return levels + brackets.count(b"[") - brackets.count(b"]") > limit


def takes_json(field: FieldDefinition | None) -> bool:
    if field is None:
        return False
    kwarg = field.kwarg_definition
    return not isinstance(kwarg, BodyKwarg) or kwarg.media_type == RequestEncodingType.JSON


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    field = request.route_handler.parsed_data_field
    if not takes_json(field):
        return
    content_type = request.headers.get("content-type", "")
    body = await request.body()  # Litestar enforces the size limit while reading (413)
    if not body.strip() and not content_type:
        return  # no body at all: the handler's own rules answer
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            f"Send the body as application/json (or a media type ending in +json), not "
            f"{content_type[:100] or 'without a Content-Type'}."
        )
    limit: int = request.app.state["runtime"].settings.json_max_depth
    refuse_deeper_than(body, limit)
    target = field.annotation if field is not None else None
    if not (isinstance(target, type) and issubclass(target, msgspec.Struct)) or not body.strip():
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


def document_json_bodies(app: Litestar) -> None:
    """Say in the OpenAPI document what `strict_json_body` answers: every operation that takes a
    JSON body documents 400, 413 and 415. Call before the document is first built."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler, _ in route.route_handler_map.values():
                if takes_json(handler.parsed_data_field):
                    handler.responses = {**problems(413, 415), **(handler.responses or {})}


def _integral_floats_as_ints(value: Any) -> Any:
    # Strict conversion still takes an int where a float is wanted, so this loses nothing.
    # Recursion is bounded by the depth checked above.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    return value


__all__ = [
    "TooDeep",
    "UnsupportedMediaType",
    "document_json_bodies",
    "is_json_media_type",
    "json_deeper_than",
    "refuse_deeper_than",
    "strict_json_body",
]
