"""Rate limits in Redis, shared by every gateway process: one Lua script per decision.

Fixed windows per (route, client) and, for portal routes, (route, supplier). The script reads
every counter, refuses if any is spent, else increments them all, so a refused request never
consumes quota and no read-then-write race exists between processes (Redis runs a script
atomically). Answers carry draft-ietf-httpapi-ratelimit-headers fields.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.kit.auth import Principal
from gateway.resp import ScriptRunner
from gateway.routing import Route

log = logging.getLogger("gateway.ratelimit")

# KEYS: counters. ARGV: quota_1, window_ms_1, quota_2, window_ms_2, ...
# Returns {allowed, count_1, pttl_1, count_2, pttl_2, ...}.
SCRIPT = """
local n = #KEYS
local out = {1}
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  local ttl = redis.call('PTTL', KEYS[i])
  if count >= tonumber(ARGV[2 * i - 1]) then out[1] = 0 end
  out[2 * i] = count
  out[2 * i + 1] = ttl
end
if out[1] == 1 then
  for i = 1, n do
    local count = redis.call('INCR', KEYS[i])
    out[2 * i] = count
    if count == 1 or out[2 * i + 1] < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
      out[2 * i + 1] = tonumber(ARGV[2 * i])
    end
  end
end
return out
"""


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
    degraded: bool = False  # Redis was unreachable; decided by the fail-open setting

    def headers(self, route: Route) -> list[tuple[bytes, bytes]]:
        if not self.counters:
            return [(b"ratelimit-policy", route.limit.policy(route.name).encode())]
        policy = ", ".join(f'"{c.policy}";q={c.quota};w={c.window}' for c in self.counters)
        state = ", ".join(f'"{c.policy}";r={c.remaining};t={c.reset}' for c in self.counters)
        return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", state.encode())]

    @property
    def retry_after(self) -> int:
        spent = [c.reset for c in self.counters if c.remaining == 0]
        return max(spent) if spent else 1

    @property
    def violated(self) -> list[str]:
        return [c.policy for c in self.counters if c.remaining == 0]


Evaluator = Callable[[list[str], list[int]], Awaitable[list[int]]]


def script_evaluator(redis_url: str, redis: Redis) -> Evaluator:
    """The lean pipelined client for redis:// URLs; redis-py (TLS, sockets) otherwise."""
    if redis_url.startswith("redis://"):
        return ScriptRunner(redis_url, SCRIPT)
    script = redis.register_script(SCRIPT)

    async def evaluate(keys: list[str], args: list[int]) -> list[int]:
        return cast(list[int], await script(keys=keys, args=args))

    return evaluate


class RateLimiter:
    def __init__(self, evaluate: Evaluator, *, fail_open: bool, retry_down_seconds: float = 1.0) -> None:
        self.fail_open = fail_open
        self._script = evaluate
        self._down_until = 0.0
        self._retry_down = retry_down_seconds
        self._last_warning = 0.0

    async def hit(self, route: Route, principal: Principal) -> Decision:
        limits = [(f"pb:rl:{{{route.name}}}:c:{principal.client_id}", route.name)]
        if route.limit.per_supplier and principal.supplier_id:
            limits.append((f"pb:rl:{{{route.name}}}:s:{principal.supplier_id}", f"{route.name}-supplier"))
        now = time.monotonic()
        if now < self._down_until:  # don't wait on a dead Redis for every request
            return Decision(self.fail_open, (), degraded=True)
        args: list[int] = []
        for _ in limits:
            args += [route.limit.quota, route.limit.window * 1000]
        try:
            raw = await self._script([k for k, _ in limits], args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._down_until = now + self._retry_down
            self._warn(exc)
            return Decision(self.fail_open, (), degraded=True)
        counters = tuple(
            Counter(name, route.limit.quota, route.limit.window, int(raw[2 * i + 1]), int(raw[2 * i + 2]))
            for i, (_, name) in enumerate(limits)
        )
        return Decision(bool(raw[0]), counters)

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_warning > 10:
            self._last_warning = now
            mode = (
                "failing OPEN (requests pass unlimited)"
                if self.fail_open
                else "failing CLOSED (requests get 503)"
            )
            log.warning("rate limiter cannot reach Redis (%s: %s); %s", type(exc).__name__, exc, mode)
