"""Operator surface of the event backbone: stream and group health, dead letters, replay.

The same functions back the HTTP router any service can mount (`events_router()`) and the
`plantbridge events ...` command line. A replay puts the original CloudEvent back on its
stream unchanged (same event id, same correlation id), addressed to the group that failed
it; the other groups acknowledge it unread.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, Router, get, post
from litestar.params import Parameter
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from contracts.kit.consumer import (
    DLQ_SUFFIX,
    FIELD_FOR_GROUP,
    FIELD_REPLAYED_FROM,
    as_text,
    dead_letter_stream,
)
from contracts.kit.params import IdempotencyKey
from contracts.kit.patterns import whole
from contracts.kit.problems import NotFound, Problem, Unprocessable
from contracts.kit.relay import FIELD_EVENT, FIELD_ID, FIELD_TYPE
from contracts.kit.responses import problems

STREAM_PATTERN = whole(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}")
ENTRY_PATTERN = whole(r"[0-9]{1,20}-[0-9]{1,20}")
_STREAM = re.compile(STREAM_PATTERN)
_ENTRY = re.compile(ENTRY_PATTERN)
READ_SCOPES = ("events:read",)
REPLAY_SCOPES = ("events:replay",)
_LAG_LIMIT = 10_000
T = TypeVar("T")  # on Redis 6.2 lag is counted, so it is counted up to this much


# --- wire shapes ---------------------------------------------------------------------------
class GroupStats(msgspec.Struct, kw_only=True):
    group: str
    consumers: int
    pending: int
    lag: int | None
    last_delivered_id: str
    pending_by_consumer: dict[str, int]


class StreamStats(msgspec.Struct, kw_only=True):
    stream: str
    length: int
    last_entry_id: str | None
    dead_letters: int
    groups: list[GroupStats]


class StreamPage(msgspec.Struct, kw_only=True):
    items: list[StreamStats]
    next_cursor: str | None  # the last stream of this page, when there are more


class DeadLetter(msgspec.Struct, kw_only=True):
    stream: str
    dead_letter_id: str
    event_id: str
    type: str
    group: str
    consumer: str
    attempts: int
    error: str
    failed_at: str
    original_entry_id: str
    event: Any = None  # the CloudEvent as JSON (null if it could not be parsed)


class DeadLetterPage(msgspec.Struct, kw_only=True):
    items: list[DeadLetter]
    next_cursor: str | None


class Replayed(msgspec.Struct, kw_only=True):
    dead_letter_id: str
    event_id: str
    group: str
    new_entry_id: str


class ReplayResult(msgspec.Struct, kw_only=True):
    replayed: list[Replayed]


# --- operations ----------------------------------------------------------------------------
async def list_streams(redis: Redis, pattern: str = "events.*") -> list[str]:
    """Event streams on this Redis (dead-letter streams are reported with their stream)."""
    found: set[str] = set()
    async for key in redis.scan_iter(match=pattern, _type="stream", count=500):
        name = as_text(key)
        found.add(name.removesuffix(DLQ_SUFFIX))
    return sorted(found)


async def stream_stats(redis: Redis, stream: str) -> StreamStats:
    _check_stream(stream)
    length = int(await redis.xlen(stream))
    last: str | None = None
    groups: list[GroupStats] = []
    if length or await redis.exists(stream):
        info = await redis.xinfo_stream(stream)
        last = as_text(info["last-generated-id"]) if info.get("last-generated-id") else None
        for group in await redis.xinfo_groups(stream):
            groups.append(await _group_stats(redis, stream, group))
    return StreamStats(
        stream=stream,
        length=length,
        last_entry_id=last,
        dead_letters=int(await redis.xlen(dead_letter_stream(stream))),
        groups=groups,
    )


async def all_stream_stats(redis: Redis) -> list[StreamStats]:
    return [await stream_stats(redis, s) for s in await list_streams(redis)]


async def dead_letters(
    redis: Redis, stream: str, *, limit: int = 50, cursor: str | None = None
) -> DeadLetterPage:
    """Oldest first; `cursor` is the last dead-letter id of the previous page."""
    _check_stream(stream)
    start = f"({cursor}" if cursor else "-"
    if cursor is not None:
        _check_entry(cursor)
    entries: Any = await redis.xrange(dead_letter_stream(stream), min=start, max="+", count=limit + 1)
    items = [_letter(stream, entry_id, fields) for entry_id, fields in entries[:limit]]
    return DeadLetterPage(items=items, next_cursor=items[-1].dead_letter_id if len(entries) > limit else None)


async def dead_letter(redis: Redis, stream: str, dead_letter_id: str) -> DeadLetter | None:
    _check_stream(stream)
    _check_entry(dead_letter_id)
    entries: Any = await redis.xrange(dead_letter_stream(stream), min=dead_letter_id, max=dead_letter_id)
    return _letter(stream, entries[0][0], entries[0][1]) if entries else None


async def replay(redis: Redis, stream: str, dead_letter_id: str) -> Replayed | None:
    """Put one dead letter back on its stream for its group, and remove it from the DLQ."""
    _check_stream(stream)
    _check_entry(dead_letter_id)
    dlq = dead_letter_stream(stream)
    entries: Any = await redis.xrange(dlq, min=dead_letter_id, max=dead_letter_id)
    if not entries:
        return None
    fields = entries[0][1]
    group = _field(fields, "group")
    message = {
        FIELD_ID: fields.get(FIELD_ID.encode(), b""),
        FIELD_TYPE: fields.get(FIELD_TYPE.encode(), b""),
        FIELD_EVENT: fields.get(FIELD_EVENT.encode(), b""),
        FIELD_FOR_GROUP: group,
        FIELD_REPLAYED_FROM: dead_letter_id,
    }
    pipe = redis.pipeline(transaction=True)
    pipe.xadd(stream, message)  # type: ignore[arg-type]
    pipe.xdel(dlq, dead_letter_id)
    new_id, _deleted = await pipe.execute()
    return Replayed(
        dead_letter_id=dead_letter_id,
        event_id=_field(fields, FIELD_ID),
        group=group,
        new_entry_id=as_text(new_id),
    )


async def replay_all(redis: Redis, stream: str, *, group: str | None = None) -> list[Replayed]:
    """Replay every dead letter of `stream` (optionally only those of one group), oldest first."""
    _check_stream(stream)
    done: list[Replayed] = []
    cursor: str | None = None
    while True:
        page = await dead_letters(redis, stream, limit=200, cursor=cursor)
        for letter in page.items:
            if group is None or letter.group == group:
                replayed = await replay(redis, stream, letter.dead_letter_id)
                if replayed is not None:
                    done.append(replayed)
        if page.next_cursor is None:
            return done
        cursor = page.next_cursor


# --- HTTP ----------------------------------------------------------------------------------
StreamParam = Annotated[
    str, Parameter(pattern=STREAM_PATTERN, max_length=200, description="Event stream, e.g. events.erp")
]
EntryParam = Annotated[
    str, Parameter(pattern=ENTRY_PATTERN, max_length=41, description="Dead-letter entry id")
]


def events_router(
    path: str = "/operations/events",
    *,
    read_scopes: Sequence[str] = READ_SCOPES,
    replay_scopes: Sequence[str] = REPLAY_SCOPES,
) -> Router:
    """Mount inside a service's API router (e.g. `/erp/v1/operations/events/...`).

    Operator scopes, not the service's own: reading stream health is `events:read`, replaying
    dead letters `events:replay`.
    """
    read = {"scopes": tuple(read_scopes)}
    write = {"scopes": tuple(replay_scopes)}

    @get(
        "/streams",
        responses=problems(503),
        summary="Event streams: length, lag and pending per group",
        opt=read,
    )
    async def streams(
        request: Request[Any, Any, Any],
        limit: Annotated[int, Parameter(ge=1, le=500, description="Page size")] = 100,
        cursor: Annotated[
            str | None,
            Parameter(pattern=STREAM_PATTERN, max_length=200, description="next_cursor of the previous page"),
        ] = None,
    ) -> StreamPage:
        names = [s for s in await _call(list_streams(_redis(request))) if cursor is None or s > cursor]
        shown = [await _call(stream_stats(_redis(request), s)) for s in names[:limit]]
        return StreamPage(items=shown, next_cursor=shown[-1].stream if len(names) > limit else None)

    @get(
        "/streams/{stream:str}",
        responses=problems(503),
        summary="One stream: length, lag and pending per group",
        opt=read,
    )
    async def one_stream(request: Request[Any, Any, Any], stream: StreamParam) -> StreamStats:
        return await _call(stream_stats(_redis(request), stream))

    @get(
        "/dead-letters/{stream:str}",
        responses=problems(422, 503),
        summary="Dead letters of a stream, oldest first",
        opt=read,
    )
    async def letters(
        request: Request[Any, Any, Any],
        stream: StreamParam,
        limit: Annotated[int, Parameter(ge=1, le=500, description="Page size")] = 50,
        cursor: Annotated[
            str | None,
            Parameter(pattern=ENTRY_PATTERN, max_length=41, description="next_cursor of the previous page"),
        ] = None,
    ) -> DeadLetterPage:
        if cursor is not None and not _is_entry_id(cursor):
            raise Unprocessable(f"cursor {cursor} is not a stream entry id", slug="invalid-cursor")
        return await _call(dead_letters(_redis(request), stream, limit=limit, cursor=cursor))

    @get(
        "/dead-letters/{stream:str}/{dead_letter_id:str}",
        responses=problems(404, 503),
        summary="One dead letter with its event, error and attempts",
        opt=read,
    )
    async def letter(
        request: Request[Any, Any, Any], stream: StreamParam, dead_letter_id: EntryParam
    ) -> DeadLetter:
        found = await _call(dead_letter(_redis(request), stream, dead_letter_id))
        if found is None:
            raise NotFound(f"no dead letter {dead_letter_id} on {stream}")
        return found

    @post(
        "/dead-letters/{stream:str}/{dead_letter_id:str}/replay",
        status_code=200,
        responses=problems(404, 422, 503),
        summary="Replay one dead letter (same event id and correlation id) to the group that failed it",
        opt=write,
    )
    async def replay_one(
        request: Request[Any, Any, Any],
        stream: StreamParam,
        dead_letter_id: EntryParam,
        idempotency_key: IdempotencyKey = None,
    ) -> ReplayResult:
        done = await _call(replay(_redis(request), stream, dead_letter_id))
        if done is None:
            raise NotFound(f"no dead letter {dead_letter_id} on {stream}")
        return ReplayResult(replayed=[done])

    @post(
        "/dead-letters/{stream:str}/replay",
        status_code=200,
        responses=problems(422, 503),
        summary="Replay every dead letter of a stream (optionally only one group's)",
        opt=write,
    )
    async def replay_every(
        request: Request[Any, Any, Any],
        stream: StreamParam,
        group: Annotated[str | None, Parameter(pattern=STREAM_PATTERN, max_length=200)] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ReplayResult:
        return ReplayResult(replayed=await _call(replay_all(_redis(request), stream, group=group)))

    return Router(
        path=path,
        route_handlers=[streams, one_stream, letters, letter, replay_one, replay_every],
        tags=["operations"],
    )


# --- helpers -------------------------------------------------------------------------------
def _is_entry_id(value: str) -> bool:
    """`<ms>-<seq>` with both parts within Redis's 64-bit range (the pattern cannot say that)."""
    return all(int(part) < 2**64 for part in value.split("-"))


def _redis(request: Request[Any, Any, Any]) -> Redis:
    redis: Redis = request.app.state["runtime"].redis
    return redis


async def _call(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except ResponseError as exc:
        if "WRONGTYPE" in str(exc) or "Invalid stream ID" in str(exc):
            raise NotFound(f"no such stream or entry: {exc}") from exc
        raise
    except RedisError as exc:
        raise Problem(
            "The event backbone (Redis) is unavailable.",
            status=503,
            slug="dependency-unavailable",
            title="Dependency unavailable",
        ) from exc


async def _group_stats(redis: Redis, stream: str, group: dict[str, Any]) -> GroupStats:
    name = as_text(group["name"])
    last = as_text(group["last-delivered-id"])
    lag = group.get("lag")
    if lag is None:  # Redis < 7 does not report lag: count what the group has not read yet
        start = "-" if last == "0-0" else f"({last}"
        unread: Any = await redis.xrange(stream, min=start, max="+", count=_LAG_LIMIT)
        lag = len(unread)
    consumers = await redis.xinfo_consumers(stream, name)
    return GroupStats(
        group=name,
        consumers=int(group["consumers"]),
        pending=int(group["pending"]),
        lag=int(lag),
        last_delivered_id=last,
        pending_by_consumer={as_text(c["name"]): int(c["pending"]) for c in consumers},
    )


def _letter(stream: str, entry_id: Any, fields: dict[bytes, bytes]) -> DeadLetter:
    raw = fields.get(FIELD_EVENT.encode(), b"")
    try:
        event = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        event = None
    return DeadLetter(
        stream=stream,
        dead_letter_id=as_text(entry_id),
        event_id=_field(fields, FIELD_ID),
        type=_field(fields, FIELD_TYPE),
        group=_field(fields, "group"),
        consumer=_field(fields, "consumer"),
        attempts=int(_field(fields, "attempts") or 0),
        error=_field(fields, "error"),
        failed_at=_field(fields, "failed_at"),
        original_entry_id=_field(fields, "entry_id"),
        event=event,
    )


def _field(fields: dict[bytes, bytes], name: str) -> str:
    return as_text(fields.get(name.encode(), b""))


def _check_stream(stream: str) -> None:
    if not _STREAM.match(stream) or stream.endswith(DLQ_SUFFIX):
        raise NotFound(f"not an event stream: {stream!r}")


def _check_entry(entry_id: str) -> None:
    if not _ENTRY.match(entry_id):
        raise NotFound(f"not a stream entry id: {entry_id!r}")


__all__ = [
    "READ_SCOPES",
    "REPLAY_SCOPES",
    "DeadLetter",
    "DeadLetterPage",
    "GroupStats",
    "ReplayResult",
    "Replayed",
    "StreamPage",
    "StreamStats",
    "all_stream_stats",
    "dead_letter",
    "dead_letters",
    "events_router",
    "list_streams",
    "replay",
    "replay_all",
    "stream_stats",
]
