"""Where deliveries may go: URL rules, a guard against server-side request forgery, and pooled
keep-alive connections per endpoint origin.

A partner names the URL, so it could name our own services, a cloud metadata address or the
plant's network. The host is resolved here and every address it resolves to must be public
(not loopback, private, link-local, shared, reserved or multicast) unless it lies in a network
the operator allowed (WEBHOOKS_ALLOWED_NETWORKS); the connection then goes to the address that was
checked, so a DNS answer that changes between the check and the connect (rebinding) cannot steer
it. Names are resolved again every minute. Redirects are never followed (a 3xx is a failure).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from contracts.kit import http1

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_EVERY = 60.0


class EndpointRefused(Exception):
    """The URL, or an address its host resolves to, may not receive deliveries."""


def parse_networks(value: str) -> tuple[IpNetwork, ...]:
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
        )
    except ValueError as exc:
        raise ValueError(f"WEBHOOKS_ALLOWED_NETWORKS: {exc}") from exc


@dataclass(frozen=True)
class Guard:
    allowed_networks: tuple[IpNetwork, ...] = ()
    allow_http: bool = False

    def check_url(self, url: str) -> SplitResult:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise EndpointRefused(f"{url!r} is not a URL: {exc}") from exc
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise EndpointRefused(
                "Endpoints must be https URLs." if not self.allow_http else "Endpoints must be http(s) URLs."
            )
        if not parts.hostname:
            raise EndpointRefused("The URL names no host.")
        if parts.username is not None or parts.password is not None:
            raise EndpointRefused("Credentials in the URL are not accepted; the signature authenticates us.")
        if parts.fragment:
            raise EndpointRefused("The URL may not have a fragment.")
        if port == 0:
            raise EndpointRefused("Port 0 is not a port.")
        return parts

    def allows(self, address: IpAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return True
        return address.is_global and not address.is_multicast

    async def resolve(self, host: str, port: int) -> str:
        """The first address of `host`, if every address it resolves to is allowed."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise EndpointRefused(f"{host} does not resolve: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        refused = [a for a in addresses if not self.allows(ipaddress.ip_address(a.split("%", 1)[0]))]
        if refused or not addresses:
            raise EndpointRefused(
                f"{host} resolves to {', '.join(refused) or 'nothing'}: not a public address "
                "(an operator may allow a network with WEBHOOKS_ALLOWED_NETWORKS)"
            )
        return addresses[0]

    async def check(self, url: str) -> None:
        parts = self.check_url(url)
        assert parts.hostname is not None
        await self.resolve(parts.hostname, _port(parts))


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def target_of(parts: SplitResult) -> bytes:
    path = parts.path or "/"
    return (path + (f"?{parts.query}" if parts.query else "")).encode()


@dataclass
class _Pooled:
    pool: http1.Pool
    resolved_at: float


class Endpoints:
    """One keep-alive pool per endpoint origin, connecting to the address the guard checked."""

    def __init__(
        self,
        guard: Guard,
        *,
        concurrency: int,
        connect_timeout: float,
        timeout: float,
        max_response_bytes: int,
    ) -> None:
        self.guard = guard
        self.concurrency = concurrency
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._pools: dict[str, _Pooled] = {}

    async def pool(self, url: str) -> tuple[http1.Pool, bytes]:
        """The pool for `url`'s origin and the request target; raises EndpointRefused."""
        parts = self.guard.check_url(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        pooled = self._pools.get(origin)
        now = time.monotonic()
        if pooled is None or now - pooled.resolved_at > RESOLVE_EVERY:
            assert parts.hostname is not None
            address = await self.guard.resolve(parts.hostname, _port(parts))
            if pooled is not None and pooled.pool.address == address:
                pooled.resolved_at = now
            else:
                if pooled is not None:
                    pooled.pool.close()
                pool = http1.Pool(
                    origin,
                    size=self.concurrency,
                    connect_timeout=self.connect_timeout,
                    timeout=self.timeout,
                    address=address,
                    max_response_bytes=self.max_response_bytes,
                )
                pooled = self._pools[origin] = _Pooled(pool, now)
        return pooled.pool, target_of(parts)

    def close(self) -> None:
        for pooled in self._pools.values():
            pooled.pool.close()
        self._pools.clear()
