"""The one declarative table of what the gateway routes, what each route needs and its limits.

Public paths are `/<service>/v<major>/...`; the first two segments choose the route. Each route
names its upstream service (base URL from settings, default from the service table), the scopes
a read or a write needs, and a rate-limit policy. Settings may override a route's limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Limit:
    """`quota` requests per `window` seconds, per client (and per supplier when `per_supplier`)."""

    quota: int
    window: int
    per_supplier: bool = False

    def policy(self, name: str) -> str:
        # draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy: "name";q=100;w=60
        return f'"{name}";q={self.quota};w={self.window}'


@dataclass(frozen=True, slots=True)
class Route:
    name: str  # also the policy name in RateLimit headers and the metrics label
    prefix: str  # "/erp/v1"
    upstream: str  # service name in the service table
    read_scopes: tuple[str, ...]
    write_scopes: tuple[str, ...]
    limit: Limit
    default_port: int  # on loopback, for the embedded platform
    # Paths under this prefix authenticate with a webhook signature the upstream verifies: they
    # pass without a token, limited per `<prefix><source>` instead of per client.
    signed_prefix: str | None = None
    # Scopes the upstream checks itself on some requests (advertised in the server metadata).
    extra_scopes: tuple[str, ...] = ()

    def scopes(self, method: str) -> tuple[str, ...]:
        return self.read_scopes if method in ("GET", "HEAD", "OPTIONS") else self.write_scopes


def _api(
    name: str, port: int, limit: Limit = Limit(1200, 60), *, version: int = 1, extra: tuple[str, ...] = ()
) -> Route:
    # Every major version of a service shares the route name, so they share one rate limit.
    return Route(
        name,
        f"/{name}/v{version}",
        name,
        (f"{name}:read",),
        (f"{name}:write",),
        limit,
        port,
        extra_scopes=extra,
    )


ROUTES: tuple[Route, ...] = (
    # erp:release: stock out of a hold, payment holds lifted (quality clients only).
    _api("erp", 8101, extra=("erp:release",)),
    _api("qms", 8102),
    _api("qms", 8102, version=2),
    _api("cmms", 8103),
    _api("mes", 8104),
    _api("xref", 8105),
    _api("quality", 8201, Limit(600, 60)),
    _api("maintenance", 8202, Limit(600, 60)),
    Route(
        "technician",
        "/technician/v1",
        "technician",
        ("technician:app",),
        ("technician:app",),
        Limit(300, 60),
        8301,
    ),
    # Portal traffic is limited per client and also per supplier, so one supplier cannot
    # starve the others by registering several clients.
    Route(
        "supplier",
        "/supplier/v1",
        "supplier",
        ("supplier:portal",),
        ("supplier:portal",),
        Limit(120, 60, per_supplier=True),
        8302,
    ),
    # Monitors need operations:read; the only writes are dead-letter replays (the service checks
    # events:read / events:replay on its operator routes itself).
    Route(
        "operations",
        "/operations/v1",
        "operations",
        ("operations:read",),
        ("events:replay",),
        Limit(300, 60),
        8303,
    ),
    # Partner subscriptions (the service checks webhooks:subscribe/read/operate itself, per route),
    # and inbound webhooks, which carry a signature instead of a token.
    Route(
        "webhooks",
        "/webhooks/v1",
        "webhooks",
        (),
        (),
        Limit(300, 60),
        8410,
        signed_prefix="/webhooks/v1/inbound/",
    ),
    _api("shopfloor", 8401, Limit(300, 60)),
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
    """Loopback addresses of the embedded platform (the ports of DESIGN.md §1); deployments set
    GATEWAY_UPSTREAMS. A unit test checks these against plantbridge's service table."""
    return {r.upstream: f"http://127.0.0.1:{r.default_port}" for r in ROUTES}
