"""A circuit breaker: after repeated failures stop calling an upstream for a while."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class CircuitOpen(Exception):
    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"{name} is failing; not calling it for another {retry_in:.1f}s")
        self.name = name
        self.retry_in = retry_in


@dataclass
class CircuitBreaker:
    """Closed → (threshold consecutive failures) → open for `cooldown` s → half-open: one trial call
    decides. Counting consecutive failures keeps it simple and is what matters for a down upstream."""

    name: str
    threshold: int = 5
    cooldown: float = 5.0
    failures: int = 0
    opened_at: float | None = None
    clock: object = field(default=time.monotonic, repr=False)

    def _now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def before_call(self) -> None:
        if self.opened_at is None:
            return
        waited = self._now() - self.opened_at
        if waited < self.cooldown:
            raise CircuitOpen(self.name, self.cooldown - waited)
        # Half-open: let this call through; its outcome closes or re-opens the circuit.
        self.opened_at = None
        self.failures = self.threshold - 1

    def succeeded(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = self._now()

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None and self._now() - self.opened_at < self.cooldown
