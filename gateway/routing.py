"""What the gateway routes, what each route needs and its limits: derived from the platform's
topology (contracts/topology.py).

Public paths are `/<service>/v<major>/...`; the first two segments choose the route. Each route
names its upstream service (base URL from settings, default from the topology), the scopes a read
or a write needs, and a rate-limit policy. Settings may override a route's limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from contracts.topology import SERVICES, Limit


@dataclass(frozen=True, slots=True)
class Route:
    name: str  # also the policy name in RateLimit headers and the metrics label
    prefix: str  # "/erp/v1"
    upstream: str  # service name in the topology
    read_scopes: tuple[str, ...]
    write_scopes: tuple[str, ...]
    limit: Limit
    # Paths under this prefix authenticate with a webhook signature the upstream verifies: they
    # pass without a token, limited per `<prefix><source>` instead of per client.
    signed_prefix: str | None = None

    def scopes(self, method: str) -> tuple[str, ...]:
        return self.read_scopes if method in ("GET", "HEAD", "OPTIONS") else self.write_scopes


# Every major version of a service shares the route name, so they share one rate limit.
ROUTES: tuple[Route, ...] = tuple(
    Route(
        service.name,
        service.api_path(major),
        service.name,
        service.read_scopes,
        service.write_scopes,
        service.api.limit,
        service.api.signed_prefix,
    )
    for service in SERVICES
    if service.api is not None
    for major in service.api.majors
)


class RouteTable:
    def __init__(self, routes: tuple[Route, ...], upstreams: Mapping[str, str]) -> None:
        self.routes = {r.prefix: r for r in routes if r.upstream in upstreams}
        self.upstreams = dict(upstreams)

    def match(self, path: str) -> Route | None:
        # "/erp/v1/items/1" -> "/erp/v1"; one dict lookup, no regex on the hot path.
        end = path.find("/", 1)
        end = path.find("/", end + 1) if end > 0 else -1
        prefix = path if end < 0 else path[:end]
        return self.routes.get(prefix)


def parse_pairs(value: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in value.split(","):
        name, sep, rest = entry.strip().partition("=")
        if entry.strip():
            if not sep or not name.strip() or not rest.strip():
                raise ValueError(f"{entry!r} is not name=value")
            pairs[name.strip()] = rest.strip()
    return pairs


def parse_limit(value: str) -> Limit:
    """`quota/window_seconds`, e.g. `100/60` (the window defaults to 60)."""
    quota, _, window = value.partition("/")
    limit = Limit(int(quota), int(window or 60))
    if limit.quota < 1 or limit.window < 1:
        raise ValueError(f"{value!r}: quota and window must be positive")
    return limit


def with_limits(routes: tuple[Route, ...], overrides: str) -> tuple[Route, ...]:
    """`overrides`: `route=quota/window`, comma-separated (e.g. `erp=100/60`)."""
    table = parse_pairs(overrides)
    out = []
    for route in routes:
        if route.name in table:
            limit = parse_limit(table[route.name])
            route = replace(route, limit=replace(route.limit, quota=limit.quota, window=limit.window))
        out.append(route)
    return tuple(out)


def default_upstreams() -> dict[str, str]:
    """Loopback addresses of the embedded platform; deployments set GATEWAY_UPSTREAMS."""
    return {s.name: s.local_url for s in SERVICES if s.api is not None}
