"""Request parameters that mean the same on every API."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

IfMatch = Annotated[
    str | None,
    Parameter(header="If-Match", max_length=200, description="ETag of the version this change is based on"),
]
IdempotencyKey = Annotated[
    str | None,
    Parameter(
        header="Idempotency-Key", min_length=1, max_length=255,
        description="Makes the request safe to retry: the same key and body replay the first response",
    ),
]
