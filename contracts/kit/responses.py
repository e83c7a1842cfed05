"""Response helpers: ETags, Location, and documented problem responses."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from litestar import Response
from litestar.openapi.datastructures import ResponseSpec

from contracts.kit.paging import etag
from contracts.kit.problems import PROBLEM_JSON, ProblemDetail

_DESCRIPTIONS = {
    400: "The request is malformed or fails validation",
    401: "No valid access token",
    403: "The token lacks a required scope",
    404: "No such record",
    409: "The record's state does not allow this (the problem names the current state)",
    410: "This API version is past its sunset",
    412: "If-Match names a stale version",
    413: "The request body is too large",
    415: "The request body is not JSON (application/json or a +json media type)",
    422: "The request names records that do not exist, or reuses an Idempotency-Key",
    429: "Rate limit exceeded",
    503: "A dependency is unavailable",
}


class Versioned(Protocol):
    version: int


V = TypeVar("V", bound=Versioned)


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Document the problem responses an operation can give (400 always)."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetail,
            description=_DESCRIPTIONS[status],
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in sorted({400, *statuses})
    }


def versioned(body: V, *, status_code: int = 200, location: str | None = None) -> Response[V]:
    headers = {"ETag": etag(body.version)}
    if location:
        headers["Location"] = location
    return Response(body, status_code=status_code, headers=headers)


IDEMPOTENCY_KEY_DOC: dict[str, Any] = {
    "description": "Makes the request safe to retry: the same key and body replay the first response.",
}
