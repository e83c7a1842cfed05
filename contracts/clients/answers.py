"""Turning upstream outcomes into this API's answers, for services that compose other APIs.

A critical upstream that fails makes the request fail with a 503 problem; a non-critical one
(`optional`) leaves a warning and a gap. An upstream's own 409/412/413/415/422 is passed on unchanged
in meaning, so a client sees the state or version it must deal with.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from contracts.clients.base import UpstreamProblem, UpstreamUnavailable
from contracts.clients.tokens import TokenUnavailable
from contracts.kit.problems import NotFound, Problem

T = TypeVar("T")
log = logging.getLogger("plantbridge.upstream")
UPSTREAM_ERRORS = (UpstreamUnavailable, UpstreamProblem, TokenUnavailable)
_PASSED_ON = {409, 412, 413, 415, 422}  # the caller can act on these (413, 415: what it sent)
_EXTENSIONS = ("current_state", "current_version", "errors")


def unavailable(source: str, exc: Exception) -> Problem:
    log.warning("upstream %s failed: %s", source, exc)
    return Problem(
        f"{source} is not available right now; try again shortly.",
        status=503,
        slug="upstream-unavailable",
        title="Upstream unavailable",
        headers={"Retry-After": "5"},
    )


def as_problem(source: str, exc: Exception, *, not_found: str = "No such record.") -> Problem:
    """The problem this API answers with when a call it cannot do without failed."""
    if isinstance(exc, UpstreamProblem):
        if exc.status == 404:
            return NotFound(not_found)
        if exc.status in _PASSED_ON:
            extensions = {k: exc.problem[k] for k in _EXTENSIONS if k in exc.problem}
            headers = {}
            if exc.status == 412 and "current_version" in exc.problem:
                headers["ETag"] = f'"{exc.problem["current_version"]}"'
            return Problem(
                str(exc.problem.get("detail", "")),
                status=exc.status,
                slug=exc.slug or None,
                title=str(exc.problem.get("title", "")) or None,
                headers=headers,
                **extensions,
            )
    return unavailable(source, exc)


async def critical(source: str, call: Awaitable[T], not_found: str = "No such record.") -> T:
    """Await a call this request cannot do without; on failure raise the problem to answer with."""
    try:
        return await call
    except UPSTREAM_ERRORS as exc:
        raise as_problem(source, exc, not_found=not_found) from exc


async def optional(source: str, call: Awaitable[T], warnings: list[tuple[str, str]]) -> T | None:
    """Await a non-critical call; on failure note a warning and answer None."""
    try:
        return await call
    except UPSTREAM_ERRORS as exc:
        log.warning("non-critical upstream %s failed: %s", source, exc)
        detail = f"{source} did not answer; this part of the answer is missing."
        if isinstance(exc, UpstreamProblem) and exc.status < 500:
            detail = f"{source} answered {exc.status}: {exc.problem.get('detail', '')}"[:300]
        warnings.append((source, detail))
        return None
