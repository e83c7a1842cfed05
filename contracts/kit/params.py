"""Request parameters that mean the same on every API."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, PathParameter, QueryParameter

from contracts.kit.wire import ID_MAX, ID_PATTERN

# Litestar enforces only the constraints given to its parameter markers (not msgspec's Meta),
# so record ids in paths and queries carry theirs here: an id with a NUL or a slash is a 400.
PathId = Annotated[str, PathParameter(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
QueryId = Annotated[str | None, QueryParameter(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match", max_length=200, description="ETag of the version this change is based on"
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        # The unit of work strips blanks and quotes from the key; say that one must remain.
        pattern=r'[^\s"]',
        description="Makes the request safe to retry: the same key and body replay the first response",
    ),
]
