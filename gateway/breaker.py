"""A circuit breaker per upstream: after repeated failures stop calling it for a while, then
let one probe through; its success closes the circuit again."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("gateway.breaker")


class Breaker:
    def __init__(self, name: str, *, failures: int, open_seconds: float) -> None:
        self.name = name
        self.threshold = failures
        self.open_seconds = open_seconds
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if self.probing or time.monotonic() - self.opened_at < self.open_seconds:
            return False
        self.probing = True  # half-open: exactly one request finds out
        return True

    def retry_after(self) -> int:
        if self.opened_at is None:
            return 1
        return max(1, int(self.open_seconds - (time.monotonic() - self.opened_at) + 0.999))

    def success(self) -> None:
        if self.opened_at is not None:
            log.info("upstream %s answers again; circuit closed", self.name)
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self) -> None:
        self.failures += 1
        if self.probing or (self.opened_at is None and self.failures >= self.threshold):
            if not self.probing:
                log.warning(
                    "upstream %s failed %d times; circuit open for %.0fs",
                    self.name,
                    self.failures,
                    self.open_seconds,
                )
            self.opened_at = time.monotonic()
            self.probing = False
