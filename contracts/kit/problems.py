"""RFC 9457 problem details: the one error shape of every Plantbridge API."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError

from contracts.kit import correlation

PROBLEM_JSON = "application/problem+json"
PROBLEM_URN = "urn:plantbridge:problem:"
log = logging.getLogger("plantbridge.problems")


class ProblemDetail(msgspec.Struct, omit_defaults=True):
    """The wire shape (RFC 9457 §3) plus our correlation id and field errors."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    correlation_id: str = ""
    errors: list[dict[str, Any]] = msgspec.field(default_factory=list)
    extensions: dict[str, Any] = msgspec.field(default_factory=dict)


class Problem(Exception):
    """Raise anywhere in a service to answer with a problem document."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.slug = slug or self.slug
        self.title = title or self.title
        self.status = status or self.status
        self.headers = headers or {}
        self.extensions = extensions


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class Unprocessable(Problem):
    status, slug, title = 422, "unprocessable", "Unprocessable request"


class PreconditionFailed(Problem):
    status, slug, title = 412, "stale-version", "Version is stale"


class RemoteProblem(Exception):
    """Another service answered a call with a problem document: the base of what the platform's
    HTTP clients raise (`contracts.clients.base.UpstreamProblem`), so the kernel (a flow deciding
    whether asking again can help) reads the answer without depending on the clients."""

    def __init__(self, service: str, status: int, problem: dict[str, Any]) -> None:
        self.service = service
        self.status = status
        self.problem = problem
        self.slug = str(problem.get("type", "")).rsplit(":", 1)[-1]
        super().__init__(f"{service} answered {status} {self.slug}: {problem.get('detail', '')}")


class IllegalTransition(Conflict):
    """A state machine refused an action; the problem names the current state."""

    slug, title = "illegal-transition", "Illegal state transition"

    def __init__(self, entity: str, current_state: str, action: str) -> None:
        super().__init__(
            f"{entity} is {current_state}; cannot {action}",
            current_state=current_state,
            action=action,
        )


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str = "",
    *,
    instance: str = "",
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response[bytes]:
    body = ProblemDetail(
        type=PROBLEM_URN + slug,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        correlation_id=correlation.current().correlation_id,
        errors=errors or [],
    )
    payload = msgspec.to_builtins(body)
    payload.update(payload.pop("extensions", {}) | (extensions or {}))
    return Response(
        content=msgspec.json.encode(payload),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def problem_bytes(status: int, slug: str, title: str, detail: str) -> bytes:
    """For ASGI middleware that answers before a Litestar request exists."""
    return msgspec.json.encode(
        ProblemDetail(
            type=PROBLEM_URN + slug,
            title=title,
            status=status,
            detail=detail,
            correlation_id=correlation.current().correlation_id,
        )
    )


def _on_problem(request: Request[Any, Any, Any], exc: Problem) -> Response[bytes]:
    return problem_response(
        exc.status,
        exc.slug,
        exc.title,
        exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        extensions=exc.extensions,
    )


_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


def _on_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, ValidationException):
        errors = exc.extra if isinstance(exc.extra, list) else []
        return problem_response(
            400,
            "validation",
            "Request is not valid",
            _validation_detail(exc, errors),
            instance=request.url.path,
            errors=[e for e in errors if isinstance(e, dict)],
        )
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "Request failed"))
    if isinstance(exc, NotFoundException) and exc.detail == "Not Found":
        detail = f"No resource at {request.url.path}"
    elif exc.status_code == 413:
        limit = request.route_handler.resolve_request_max_body_size()
        detail = f"Request bodies are limited to {limit} bytes."
    else:
        detail = exc.detail
    headers = dict(exc.headers or {})
    if allow := headers.get("allow"):
        # Litestar joins the path's methods in the order its handlers happen to be kept, which
        # changes from one start to the next; the OPTIONS answer lists them sorted too.
        headers["allow"] = ", ".join(sorted(allow.split(", ")))
    return problem_response(exc.status_code, slug, title, detail, instance=request.url.path, headers=headers)


def _validation_detail(exc: ValidationException, errors: list[Any]) -> str:
    messages = [
        f"{e.get('key', '')}: {e.get('message', '')}".strip(": ") for e in errors if isinstance(e, dict)
    ]
    return "; ".join(m for m in messages if m) or exc.detail


def _on_integrity_error(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[bytes]:
    # A concurrent writer won a uniqueness race; the client may re-read and retry.
    log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
    return problem_response(
        409,
        "conflict",
        "Conflict",
        "The change conflicts with a concurrent change.",
        instance=request.url.path,
    )


def _on_data_error(request: Request[Any, Any, Any], exc: DataError) -> Response[bytes]:
    # The database refused a value the schema let through (a range or encoding limit).
    log.warning("data error on %s %s: %s", request.method, request.url.path, exc.orig)
    return problem_response(
        422,
        "value-not-storable",
        "Value cannot be stored",
        "A value in the request is outside what can be stored.",
        instance=request.url.path,
    )


def _on_stale_data(request: Request[Any, Any, Any], exc: StaleDataError) -> Response[bytes]:
    return problem_response(
        409,
        "concurrent-update",
        "Concurrent update",
        "The record changed while this request ran; read it again and retry.",
        instance=request.url.path,
    )


def _busy(request: Request[Any, Any, Any], slug: str, detail: str, retry_after: int) -> Response[bytes]:
    """503 for a request that changed nothing and is served when sent again a moment later."""
    return problem_response(
        503,
        slug,
        "Service busy",
        detail,
        instance=request.url.path,
        headers={"Retry-After": str(retry_after)},
    )


def _on_pool_timeout(request: Request[Any, Any, Any], exc: PoolTimeout) -> Response[bytes]:
    # Every pooled connection stayed busy for the pool's timeout (a burst).
    log.warning("no database connection for %s %s: %s", request.method, request.url.path, exc)
    return _busy(
        request, "database-busy", "Every database connection of this service stayed busy; retry shortly.", 2
    )


# SQLSTATEs of a transaction PostgreSQL aborted for a concurrent one's sake (a deadlock, a
# serialization failure).
_ABORTED_FOR_ANOTHER = frozenset({"40P01", "40001"})


def _on_database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[bytes]:
    if getattr(exc.orig, "sqlstate", None) not in _ABORTED_FOR_ANOTHER:
        return _on_unexpected(request, exc)
    log.warning("database aborted %s %s for a concurrent one: %s", request.method, request.url.path, exc.orig)
    detail = (
        "The database ended this request in favour of a concurrent one; nothing was changed. Retry shortly."
    )
    return _busy(request, "database-contention", detail, 1)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "The service failed to handle this request; quote the correlation id when reporting it.",
        instance=request.url.path,
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    Problem: _on_problem,
    IntegrityError: _on_integrity_error,
    DataError: _on_data_error,
    StaleDataError: _on_stale_data,
    PoolTimeout: _on_pool_timeout,
    DBAPIError: _on_database_error,
    HTTPException: _on_http_exception,
    NotAuthorizedException: _on_http_exception,
    PermissionDeniedException: _on_http_exception,
    Exception: _on_unexpected,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "Conflict",
    "IllegalTransition",
    "NotFound",
    "PreconditionFailed",
    "Problem",
    "ProblemDetail",
    "RemoteProblem",
    "Unprocessable",
    "problem_bytes",
    "problem_response",
]
