"""Sync dependency providers are resolved one after another, not in a task group.

Litestar 2.25 resolves the dependencies of one level of a handler's dependency graph
concurrently: whenever a handler takes more than one, it opens an anyio task group and starts a
task per provider. For providers that are plain functions run on the event loop
(`Provide(..., sync_to_thread=False)`: the request's session, the ERP backend, the operation id,
the paging query) nothing can overlap, so the task group is pure cost: ~80 µs of CPU per
request, ~12 % of a GET on the ERP service (docs/decisions/sync-dependencies-inline.md; upstream
litestar-org/litestar#4563). `resolve_sync_providers_inline(app)` puts each such provider of a
level in a batch of its own, which Litestar awaits directly; providers that await I/O, run in a
thread or are generators keep their concurrent batch. Drop this when Litestar stops paying for it.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute


def resolve_sync_providers_inline(app: Litestar) -> None:
    """Call once the app is built (its routes know their kwargs models)."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for _, kwargs_model in route.route_handler_map.values():
                kwargs_model.dependency_batches = _split(kwargs_model.dependency_batches)


def _split(batches: list[set[Any]]) -> list[set[Any]]:
    # A batch holds dependencies whose own dependencies are all in earlier batches, so any order
    # within a batch is valid, and running its members one by one keeps every guarantee.
    split: list[set[Any]] = []
    for batch in batches:
        inline = {d for d in batch if _runs_inline(d.provide)}
        split.extend({d} for d in inline)
        if rest := batch - inline:
            split.append(rest)
    return split


def _runs_inline(provide: Any) -> bool:
    return bool(
        provide.has_sync_callable
        and not provide.has_sync_generator_dependency
        and not provide.has_async_generator_dependency
    )


__all__ = ["resolve_sync_providers_inline"]
