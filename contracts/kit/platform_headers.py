"""Platform headers are believed only from the platform's own clients, decided by the token.

A flow step or an event handler calling a system API says why in `X-Flow-ID` and
`X-Causation-ID`, an experience API whom it acts for in `X-Acting-For` (the table is
`correlation.PLATFORM_HEADERS`); the audit trail and the events the call publishes record them as
the "why" and "who" of a change. Any caller can send a header, so a service
believes them only when the request's verified token belongs to one of the platform's clients:
its client id is listed in `<SERVICE>_PLATFORM_CLIENTS` and it was issued by the platform's own
issuer (`<SERVICE>_AUTH_ISSUER`), so an external identity provider cannot mint a look-alike.
From anybody else the headers are ignored, never stored and never passed on: such a caller acts
for itself, so its own identity becomes the request's `X-Acting-For` (contracts/kit/acting.py).
Where the call comes from (the network) plays no part.

`plantbridge serve` fills `<SERVICE>_PLATFORM_CLIENTS` with the clients of the topology
(contracts/topology.py) unless it is set; a deployment that renames them sets it itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from contracts.kit import acting, correlation
from contracts.kit.auth import PRINCIPAL_KEY, Principal

# The wire form of each platform header (lower-case, as ASGI servers pass them) -> (Context field,
# what its value must look like).
_FIELDS = {name.lower().encode("latin-1"): entry for name, entry in correlation.PLATFORM_HEADERS.items()}


@dataclass(frozen=True, slots=True)
class PlatformClients:
    issuer: str
    client_ids: frozenset[str]

    @classmethod
    def from_settings(cls, issuer: str, client_ids: str) -> PlatformClients:
        return cls(issuer, frozenset(c.strip() for c in client_ids.split(",") if c.strip()))

    def include(self, principal: Principal) -> bool:
        return principal.issuer == self.issuer and principal.client_id in self.client_ids


@dataclass
class PlatformHeadersMiddleware:
    """Runs right after `AuthMiddleware`, which has put the verified principal in the scope."""

    app: ASGIApp
    clients: PlatformClients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = scope.get("state", {}).get(PRINCIPAL_KEY)
        if scope["type"] != ScopeType.HTTP or principal is None:
            await self.app(scope, receive, send)
            return
        if not self.clients.include(principal):
            with correlation.amended(acting_for=acting.encode(principal)):
                await self.app(scope, receive, send)
            return
        claimed = {
            _FIELDS[name][0]: text
            for name, value in scope["headers"]
            if name in _FIELDS and _FIELDS[name][1].match(text := value.decode("latin-1"))
        }
        with correlation.amended(**claimed):
            await self.app(scope, receive, send)


__all__ = ["PlatformClients", "PlatformHeadersMiddleware"]
