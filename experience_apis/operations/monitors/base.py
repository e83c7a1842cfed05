"""What a monitor is and what it finds; upstream failures become warnings, never errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from redis.exceptions import RedisError

from contracts.clients.answers import UPSTREAM_ERRORS
from contracts.clients.base import UpstreamProblem
from contracts.models.operations import Offender
from experience_apis.operations.upstreams import Upstreams

log = logging.getLogger("plantbridge.operations")
FAILURES = (*UPSTREAM_ERRORS, RedisError)


@dataclass
class Found:
    items: list[Offender] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.warnings

    def warn(self, source: str, exc: Exception, consequence: str) -> None:
        log.warning("monitor upstream %s failed: %s", source, exc)
        if isinstance(exc, UpstreamProblem) and exc.status < 500:
            said = f"{source} answered {exc.status}: {exc.problem.get('detail', '')}"[:300]
        else:
            said = f"{source} did not answer"
        self.warnings.append((source, f"{said}; {consequence}"))


Check = Callable[[Upstreams, datetime], Awaitable[Found]]


@dataclass(frozen=True)
class Monitor:
    name: str
    title: str
    description: str
    check: Check


def end_of(day: date) -> datetime:
    """A due date is met until the day is over (UTC). The last day of the calendar (a due date
    of 9999-12-31 a system once stored) is never over, rather than breaking the check."""
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def since_window(up: Upstreams, now: datetime) -> str:
    return (now - timedelta(days=up.lookback_days)).isoformat()
