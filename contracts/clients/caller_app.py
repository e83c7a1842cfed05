"""The composition root of a service that calls the layers below and keeps typed clients for its
handlers (`create_app = caller_app(SPEC, Settings, upstreams)`): its settings, OAuth2 client and
scopes come from its topology entry, its clients are built as the app starts and closed as it
stops, and handlers receive them as the dependency `upstreams`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from litestar import Litestar

from contracts.clients.outbound import Caller, Outbound
from contracts.kit.app import ServiceSpec, create_service_app
from contracts.kit.lifetimes import Closing, Lifespan, from_state, kept
from contracts.kit.settings import CallerSettings

S = TypeVar("S", bound=CallerSettings)
S_contra = TypeVar("S_contra", bound=CallerSettings, contravariant=True)
UPSTREAMS = "upstreams"  # the key in app.state and the handlers' dependency


class AppFactory(Protocol[S_contra]):
    def __call__(
        self, settings: S_contra | None = None, *, outbound: Outbound | None = None, **overrides: Any
    ) -> Litestar: ...


def caller_app(
    spec: ServiceSpec,
    settings_type: type[S],
    upstreams: Callable[[Litestar, Caller[S]], Closing],
    lifespans: Callable[[Caller[S]], Sequence[Lifespan]] = lambda _: (),
) -> AppFactory[S]:
    """`create_app(settings=None, *, outbound=None, **overrides)` of the service `spec` names.
    `upstreams` builds what its handlers and flows call through (kept in `app.state["upstreams"]`
    for the `lifespans` that follow, which run the service's own background work)."""
    spec = replace(spec, dependencies={UPSTREAMS: from_state(UPSTREAMS), **spec.dependencies})

    def create_app(
        settings: S | None = None, *, outbound: Outbound | None = None, **overrides: Any
    ) -> Litestar:
        caller = Caller.of(spec.name, settings_type, settings, outbound, overrides)
        clients = kept(UPSTREAMS, lambda app: upstreams(app, caller))
        return create_service_app(spec, caller.settings, lifespans=[clients, *lifespans(caller)])

    return create_app
