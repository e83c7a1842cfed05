"""How a service that calls other APIs reaches them: the token it presents and, per upstream, the
transport its typed client sends through.

A service's `create_app(outbound=...)` takes one (its port to the layers below); without it the
service authenticates as its own OAuth2 client at the gateway (`<SERVICE>_CLIENT_ID`/`_SECRET`)
and calls each upstream over HTTP/1.1 at the URL in its settings. A test hands in tokens from
its own issuer and, for an upstream served in the test's process, that app's transport.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from contracts.clients.base import ApiClient, TokenProvider
from contracts.clients.tokens import ClientCredentials
from contracts.kit.http1 import Transport
from contracts.kit.settings import CallerSettings, load_settings
from contracts.topology import by_name

C = TypeVar("C", bound=ApiClient)
S = TypeVar("S", bound=CallerSettings)


@dataclass(frozen=True)
class Outbound:
    token: TokenProvider | None = None
    transports: Mapping[str, Transport] = field(default_factory=dict)  # by the upstream's service name

    @classmethod
    def client_credentials(cls, settings: CallerSettings, scopes: Sequence[str]) -> Outbound:
        """As deployed: tokens for `scopes` from the gateway, HTTP/1.1 to every upstream."""
        token = ClientCredentials(settings.auth_token_url, settings.client_id, settings.client_secret, scopes)
        return cls(token=token)

    def client(self, kind: type[C], base_url: str, **options: Any) -> C:
        """A typed client of `kind` for the upstream at `base_url` (`options`: timeout, attempts...)."""
        return kind(base_url, token=self.token, transport=self.transports.get(kind.service), **options)


@dataclass(frozen=True)
class Caller(Generic[S]):
    """A calling service's settings and its outbound port, what its `create_app` wires from."""

    settings: S
    outbound: Outbound

    @classmethod
    def of(
        cls,
        name: str,
        settings_type: type[S],
        settings: S | None,
        outbound: Outbound | None,
        overrides: Mapping[str, Any],
    ) -> Caller[S]:
        """`create_app(settings, outbound=..., **overrides)`'s arguments, with what was not given
        read from the topology entry of `name`: its `<PREFIX>_*` variables and its client's scopes."""
        service = by_name(name)
        settings = settings or load_settings(settings_type, service.env_prefix, **overrides)
        return cls(settings, outbound or Outbound.client_credentials(settings, service.client_scopes))

    def client(self, kind: type[C], **options: Any) -> C:
        """A typed client of `kind` at the settings' `<upstream>_url`, waiting on each request for
        `upstream_timeout_seconds` unless `options` (timeout, attempts...) say otherwise."""
        base_url = getattr(self.settings, f"{kind.service}_url", None)
        if not isinstance(base_url, str):
            raise TypeError(f"{type(self.settings).__name__} has no {kind.service}_url for {kind.__name__}")
        return self.outbound.client(
            kind, base_url, **{"timeout": self.settings.upstream_timeout_seconds, **options}
        )


class Clients:
    """Base of a dataclass that holds a service's typed clients beside whatever else its handlers
    or flows use (`kept("upstreams", ...)`, contracts/kit/lifetimes.py): `aclose` closes every
    field that is a client, so a client added later is not left open."""

    async def aclose(self) -> None:
        for value in vars(self).values():
            if isinstance(value, ApiClient):
                await value.aclose()
