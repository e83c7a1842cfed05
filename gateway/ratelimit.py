"""Rate limits in Redis, shared by every gateway process: one Lua script per decision.

Sliding windows (gateway/windows.py) per (route, client) and, for portal routes, (route,
supplier): a request passes only if every counter has room, and only a passing request is
counted, so a refused request never consumes quota, and Redis runs the script atomically, so
there is no read-then-write race between processes. Answers carry
draft-ietf-httpapi-ratelimit-headers fields.

Redis unreachable: with `fail_open` each gateway process goes on counting in its own memory (the
limits hold per process, so N replicas let up to N x quota through), else requests get 503.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.kit.auth import Principal
from gateway.resp import ScriptRunner
from gateway.routing import Route
from gateway.windows import SCRIPT, Evaluator, LocalWindows, arguments

log = logging.getLogger("gateway.ratelimit")


@dataclass(frozen=True, slots=True)
class Counter:
    policy: str  # policy name in the headers
    quota: int
    window: int
    used: int
    reset_ms: int

    @property
    def remaining(self) -> int:
        return max(0, self.quota - self.used)

    @property
    def reset(self) -> int:
        return max(1, math.ceil(self.reset_ms / 1000)) if self.reset_ms > 0 else self.window


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    counters: tuple[Counter, ...]
    unavailable: bool = False  # Redis is unreachable and the limiter fails closed
    policy: bytes = b""  # the RateLimit-Policy value of these counters

    def headers(self, route: Route) -> list[tuple[bytes, bytes]]:
        if not self.counters:
            return [(b"ratelimit-policy", route.limit.policy(route.name).encode())]
        state = ", ".join(f'"{c.policy}";r={c.remaining};t={c.reset}' for c in self.counters)
        return [(b"ratelimit-policy", self.policy), (b"ratelimit", state.encode())]

    @property
    def retry_after(self) -> int:
        spent = [c.reset for c in self.counters if c.remaining == 0]
        return max(spent) if spent else 1

    @property
    def violated(self) -> list[str]:
        return [c.policy for c in self.counters if c.remaining == 0]


def script_evaluator(redis_url: str, redis: Redis) -> Evaluator:
    """The lean pipelined client for redis:// URLs; redis-py (TLS, sockets) otherwise."""
    if redis_url.startswith("redis://"):
        return ScriptRunner(redis_url, SCRIPT)
    script = redis.register_script(SCRIPT)

    async def evaluate(keys: list[str], args: list[bytes | str | int]) -> list[int]:
        return cast(list[int], await script(keys=keys, args=args))

    return evaluate


class Windows:
    """Sliding-window counters in Redis, counted in this process's memory while Redis is away
    (`fail_open`) or refused (`Unavailable`). Shared by the rate limiter and the token
    endpoint's failure throttle."""

    def __init__(self, evaluate: Evaluator, *, fail_open: bool, retry_down_seconds: float = 1.0) -> None:
        self.fail_open = fail_open
        self._shared = evaluate
        self._local = LocalWindows()
        self._down_until = 0.0
        self._retry_down = retry_down_seconds
        self._last_warning = 0.0
        # Members of the sorted sets must be unique across processes: a random prefix per process.
        self._prefix = secrets.token_hex(6) + ":"
        self._sequence = itertools.count()

    async def __call__(
        self, keys: list[str], limits: list[tuple[int, int]], *, add: bool = True
    ) -> list[int]:
        """SCRIPT's answer for (quota, window_ms) per key; raises Unavailable when failing closed."""
        args = arguments(add, f"{self._prefix}{next(self._sequence)}", limits)
        now = time.monotonic()
        if now >= self._down_until:  # don't wait on a dead Redis for every request
            try:
                return await self._shared(keys, args)
            except (RedisError, OSError, TimeoutError) as exc:
                self._down_until = now + self._retry_down
                self._warn(exc)
        if not self.fail_open:
            raise Unavailable("the rate limiter's Redis is unreachable")
        return self._local.evaluate(keys, args)

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_warning > 10:
            self._last_warning = now
            mode = (
                "failing OPEN (limits counted per gateway process)"
                if self.fail_open
                else "failing CLOSED (requests get 503)"
            )
            log.warning("rate limiter cannot reach Redis (%s: %s); %s", type(exc).__name__, exc, mode)


class Unavailable(Exception):
    """Redis is unreachable and the limits fail closed."""


class RateLimiter:
    def __init__(self, windows: Windows) -> None:
        self.windows = windows
        self._policies: dict[tuple[str, int], bytes] = {}  # (route, counters) -> RateLimit-Policy

    async def hit(self, route: Route, principal: Principal) -> Decision:
        limits = [(f"pb:rl:{{{route.name}}}:c:{principal.client_id}", route.name)]
        if route.limit.per_supplier and principal.supplier_id:
            limits.append((f"pb:rl:{{{route.name}}}:s:{principal.supplier_id}", f"{route.name}-supplier"))
        window_ms = route.limit.window * 1000
        try:
            raw = await self.windows([k for k, _ in limits], [(route.limit.quota, window_ms)] * len(limits))
        except Unavailable:
            return Decision(False, (), unavailable=True)
        counters = tuple(
            Counter(name, route.limit.quota, route.limit.window, int(raw[2 * i + 1]), int(raw[2 * i + 2]))
            for i, (_, name) in enumerate(limits)
        )
        policy = self._policies.get((route.name, len(counters)))
        if policy is None:
            policy = self._policies[(route.name, len(counters))] = ", ".join(
                f'"{c.policy}";q={c.quota};w={c.window}' for c in counters
            ).encode()
        return Decision(bool(raw[0]), counters, policy=policy)
