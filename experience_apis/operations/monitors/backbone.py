"""The event backbone: dead letters waiting for an operator, consumer groups falling behind."""

from __future__ import annotations

from datetime import datetime

from contracts.kit.operations import StreamStats, all_stream_stats, dead_letters
from contracts.models.operations import Offender
from experience_apis.operations.monitors.base import FAILURES, Found, Monitor
from experience_apis.operations.upstreams import Upstreams

EVENTS_API = "/operations/v1/events"
SHOWN_PER_STREAM = 200  # the gauge counts all of them


async def _stats(up: Upstreams, found: Found) -> list[StreamStats] | None:
    try:
        return await all_stream_stats(up.redis)
    except FAILURES as exc:
        found.warn("redis", exc, "stream state unknown")
        return None


async def dead_letter_monitor(up: Upstreams, now: datetime) -> Found:
    found = Found()
    for stats in await _stats(up, found) or []:
        if not stats.dead_letters:
            continue
        try:
            page = await dead_letters(up.redis, stats.stream, limit=SHOWN_PER_STREAM)
        except FAILURES as exc:
            found.warn("redis", exc, f"dead letters of {stats.stream} unknown")
            continue
        for letter in page.items:
            found.items.append(
                Offender(
                    record_type="dead_letter",
                    record_id=f"{letter.stream}/{letter.dead_letter_id}",
                    summary=f"{letter.type or 'unreadable event'} failed {letter.attempts}x in "
                    f"{letter.group}: {letter.error}"[:500],
                    since=_parse(letter.failed_at),
                    links={
                        "dead_letter": f"{EVENTS_API}/dead-letters/{letter.stream}/{letter.dead_letter_id}",
                        "replay": f"{EVENTS_API}/dead-letters/{letter.stream}/{letter.dead_letter_id}/replay",
                    },
                    details={
                        "stream": letter.stream,
                        "stream_dead_letters": stats.dead_letters,
                        "group": letter.group,
                        "event_id": letter.event_id,
                        "type": letter.type,
                        "attempts": letter.attempts,
                    },
                )
            )
    return found


async def lag_monitor(up: Upstreams, now: datetime) -> Found:
    found = Found()
    for stats in await _stats(up, found) or []:
        for group in stats.groups:
            behind = (group.lag or 0) + group.pending
            if behind <= up.lag_threshold:
                continue
            found.items.append(
                Offender(
                    record_type="consumer_group",
                    record_id=f"{stats.stream}/{group.group}",
                    summary=f"{group.group} on {stats.stream}: {group.lag} unread, {group.pending} pending",
                    links={"stream": f"{EVENTS_API}/streams/{stats.stream}"},
                    details={
                        "stream": stats.stream,
                        "group": group.group,
                        "lag": group.lag,
                        "pending": group.pending,
                        "consumers": group.consumers,
                        "threshold": up.lag_threshold,
                    },
                )
            )
    return found


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


MONITORS = (
    Monitor(
        "dead-letters",
        "Dead letters",
        "Events a consumer group gave up on, per stream, waiting to be inspected and replayed.",
        dead_letter_monitor,
    ),
    Monitor(
        "consumer-lag",
        "Consumer lag",
        "Consumer groups with more unread plus pending messages than the threshold.",
        lag_monitor,
    ),
)
