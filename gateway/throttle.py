"""Failed client authentications (token and introspection endpoints), throttled per claimed
client id and per source address, before any secret is hashed.

Over either limit the answer is 429 with Retry-After and no scrypt runs, so a flood of guesses
neither guesses on nor starves legitimate token requests of CPU. Unknown client ids count like
known ones (their keys are the claimed id), so a 429 says nothing about who exists.

A per-client-id limit is a lever for anyone who knows the id: failing on purpose would lock the
real client out. So a source that has authenticated as a client in the last `known_days` keeps
being heard for that client while its id is throttled (only its own source limit applies); new
sources wait. The platform's own services and a partner's fixed addresses thus keep their tokens
coming while someone else hammers their id.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

from contracts.topology import Limit
from gateway.ratelimit import Windows

_KNOWN_EVENTS = 16  # successes remembered per (client, source); one is enough to be known


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the counters say before a secret is checked."""

    retry_after: int = 0  # > 0: refuse with 429 for this many seconds
    reason: str = ""
    known: bool = False  # the source has authenticated as this client before


class FailureThrottle:
    def __init__(
        self, windows: Windows, *, per_client: Limit, per_source: Limit, known_days: float = 30.0
    ) -> None:
        self.windows = windows
        self.per_source = (per_source.quota, per_source.window * 1000)
        self.per_client = (per_client.quota, per_client.window * 1000)
        self.known = (_KNOWN_EVENTS, int(known_days * 86_400_000))

    async def check(self, client_id: str | None, source: str) -> Attempt:
        """Raises ratelimit.Unavailable when the counters are unreachable and the gateway fails closed."""
        keys, limits = [_source_key(source)], [self.per_source]
        if client_id:
            keys += [_client_key(client_id), _known_key(client_id, source)]
            limits += [self.per_client, self.known]
        raw = await self.windows(keys, limits, add=False)
        used, resets = raw[1::2], raw[2::2]
        known = bool(client_id) and used[2] > 0
        if used[0] >= self.per_source[0]:
            return Attempt(_seconds(resets[0]), "Too many failed authentications from this address.", known)
        if client_id and not known and used[1] >= self.per_client[0]:
            return Attempt(_seconds(resets[1]), "Too many failed authentications for this client.")
        return Attempt(known=known)

    async def failed(self, client_id: str | None, source: str, attempt: Attempt) -> None:
        # A known source's failures count against its address only, never against the client
        # it has proven to be.
        keys, limits = [_source_key(source)], [self.per_source]
        if client_id and not attempt.known:
            keys.append(_client_key(client_id))
            limits.append(self.per_client)
        await self.windows(keys, limits, add=True)

    async def succeeded(self, client_id: str, source: str) -> None:
        await self.windows([_known_key(client_id, source)], [self.known], add=True)


def _source_key(source: str) -> str:
    return f"pb:auth:fail:s:{source}"


def _client_key(client_id: str) -> str:
    return f"pb:auth:fail:c:{client_id}"


def _known_key(client_id: str, source: str) -> str:
    return f"pb:auth:ok:{client_id}:{source}"


def _seconds(ms: int) -> int:
    return max(1, math.ceil(ms / 1000))


Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]


def client_address(peer: str, forwarded_for: str, trusted: Networks) -> str:
    """The caller's address: the peer's, or, when the peer is a trusted proxy, the last address
    in X-Forwarded-For that is not one of ours (anything before it could be forged by the caller)."""
    if not _is_trusted(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _is_trusted(hop, trusted):
            return hop
    return peer


def _is_trusted(address: str, trusted: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def parse_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """`GATEWAY_TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
