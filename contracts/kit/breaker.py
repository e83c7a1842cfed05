"""A circuit breaker: after repeated failures stop calling an upstream for a while.

Used by the typed clients (process and experience APIs calling the layers below) and by the
gateway in front of every upstream.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("plantbridge.breaker")
_recovery_watchers: set[Callable[[str], None]] = set()


def watch_recoveries(callback: Callable[[str], None]) -> Callable[[], None]:
    """`callback(name)` runs (on the caller's thread) whenever an open circuit closes: its upstream
    answers again. Returns the function that stops watching."""
    _recovery_watchers.add(callback)
    return lambda: _recovery_watchers.discard(callback)


class CircuitOpen(Exception):
    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"{name} is failing; not calling it for another {retry_in:.1f}s")
        self.name = name
        self.retry_in = retry_in


@dataclass
class CircuitBreaker:
    """Closed → (`threshold` consecutive failures) → open for `cooldown` s → half-open: exactly one
    trial call decides. A trial that never reports back (cancelled, say) is replaced by another
    after a further cooldown, so the circuit cannot stay open for ever."""

    name: str
    threshold: int = 5
    cooldown: float = 5.0
    failures: int = 0
    opened_at: float | None = None
    probe_started: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        now = self.clock()
        if now - self.opened_at < self.cooldown:
            return False
        if self.probe_started is not None and now - self.probe_started < self.cooldown:
            return False  # one trial call is already finding out
        self.probe_started = now
        return True

    def before_call(self) -> None:
        if not self.allow():
            raise CircuitOpen(self.name, self.retry_in())

    def retry_in(self) -> float:
        """Seconds until a call may be tried again (0 when closed)."""
        if self.opened_at is None:
            return 0.0
        since = self.probe_started if self.probe_started is not None else self.opened_at
        return max(0.0, self.cooldown - (self.clock() - since))

    def retry_after(self) -> int:
        """For a `Retry-After` header: whole seconds, at least 1."""
        return max(1, math.ceil(self.retry_in()))

    def succeeded(self) -> None:
        recovered = self.opened_at is not None
        self.failures = 0
        self.opened_at = None
        self.probe_started = None
        if recovered:
            log.info("%s answers again; circuit closed", self.name)
            for callback in list(_recovery_watchers):
                callback(self.name)

    def failed(self) -> None:
        self.failures += 1
        if self.probe_started is not None or (self.opened_at is None and self.failures >= self.threshold):
            if self.opened_at is None:
                log.warning(
                    "%s failed %d times; circuit open for %.0fs", self.name, self.failures, self.cooldown
                )
            self.opened_at = self.clock()
            self.probe_started = None
