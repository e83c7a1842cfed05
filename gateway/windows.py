"""Sliding-window limits: at most `quota` events in ANY span of `window` ms, not per clock window.

A fixed window lets a client spend its quota at the end of one window and again at the start of
the next (99 requests in 4.7 s against 50 per 10 s); a token bucket or GCRA still lets `quota`
plus a refill through in one window. The exact rule needs the times of the last `quota` events,
kept in a Redis sorted set per counter: one Lua script checks every counter of a decision and
adds the event to all of them only when none is spent, atomically for every gateway process.
Redis's clock decides, so replicas with skewed clocks agree.

`LocalWindows` is the same rules in process memory: the fallback while Redis is unreachable
(limits then hold per gateway process).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

# KEYS: one sorted set per counter. ARGV: add (1: record the event if every counter allows it,
# 0: only look), member (unique per event), then quota_i, window_ms_i per key.
# Returns {allowed, used_1, reset_ms_1, used_2, reset_ms_2, ...}: `used` counts the event if it
# was recorded; `reset_ms` is how long until one more event fits when the counter is spent,
# else until the whole quota is free again.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local out = {1}
for i = 1, n do
  local quota, window = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local used = redis.call('ZCARD', KEYS[i])
  if used >= quota then out[1] = 0 end
  out[2 * i] = used
end
local add = out[1] == 1 and ARGV[1] == '1'
for i = 1, n do
  local quota, window = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
  local used = out[2 * i]
  if add then
    redis.call('ZADD', KEYS[i], now, ARGV[2])
    redis.call('PEXPIRE', KEYS[i], window)
    used = used + 1
    out[2 * i] = used
  end
  local reset = window  -- also when this event was just added: it is the newest
  if used >= quota then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2]
    reset = tonumber(oldest) + window - now
  elseif used > 0 and not add then
    local newest = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')[2]
    reset = tonumber(newest) + window - now
  end
  out[2 * i + 1] = reset
end
return out
"""

Evaluator = Callable[[list[str], list[bytes | str | int]], Awaitable[list[int]]]


def arguments(add: bool, member: str, limits: list[tuple[int, int]]) -> list[bytes | str | int]:
    """ARGV for SCRIPT: `limits` holds (quota, window_ms) per key."""
    args: list[bytes | str | int] = [1 if add else 0, member]
    for quota, window_ms in limits:
        args += [quota, window_ms]
    return args


class LocalWindows:
    """SCRIPT's semantics in this process's memory (monotonic clock), for when Redis is away."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._events: dict[str, tuple[int, deque[int]]] = {}  # key -> (window_ms, event times)
        self._max_keys = max_keys

    async def __call__(self, keys: list[str], args: list[bytes | str | int]) -> list[int]:
        return self.evaluate(keys, args)

    def evaluate(self, keys: list[str], args: list[bytes | str | int], now: int | None = None) -> list[int]:
        now = math.floor(time.monotonic() * 1000) if now is None else now
        limits = [(int(args[2 * i + 2]), int(args[2 * i + 3])) for i in range(len(keys))]
        logs = [self._log(key, window, now) for key, (_, window) in zip(keys, limits, strict=True)]
        allowed = all(len(log) < quota for log, (quota, _) in zip(logs, limits, strict=True))
        add = allowed and int(args[0]) == 1
        out = [int(allowed)]
        for log, (quota, window) in zip(logs, limits, strict=True):
            if add:
                log.append(now)
            used = len(log)
            reset = window
            if used >= quota:
                reset = log[0] + window - now
            elif used:
                reset = log[-1] + window - now
            out += [used, reset]
        return out

    def _log(self, key: str, window: int, now: int) -> deque[int]:
        entry = self._events.get(key)
        if entry is None:
            if len(self._events) >= self._max_keys:
                self._sweep(now)
            entry = self._events[key] = (window, deque())
        log = entry[1]
        while log and log[0] <= now - window:
            log.popleft()
        return log

    def _sweep(self, now: int) -> None:
        """Forget counters with no event left in their window; if all are live, the oldest ones."""
        for key in [k for k, (window, log) in self._events.items() if not log or log[-1] <= now - window]:
            del self._events[key]
        while len(self._events) >= self._max_keys:
            del self._events[next(iter(self._events))]


__all__ = ["SCRIPT", "Evaluator", "LocalWindows", "arguments"]
