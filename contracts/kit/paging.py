"""Keyset pagination with delta sync, ETags and If-Match: one shape for every list and record."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.di import NamedDependency
from litestar.params import Parameter
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from contracts.kit.patterns import whole
from contracts.kit.problems import PreconditionFailed, Unprocessable

T = TypeVar("T")
MAX_LIMIT = 500
# The largest integer a database column holds (BIGINT; SQLite's INTEGER): a cursor naming a
# larger one is not one an API issued, and binding it fails.
DB_INT_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The paging arguments every list takes."""

    limit: int = 50
    cursor: str | None = None
    updated_since: datetime | None = None


def provide_page_query(
    limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Page size")] = 50,
    cursor: Annotated[
        str | None, Parameter(max_length=200, description="next_cursor of the previous page")
    ] = None,
    updated_since: Annotated[
        str | None,
        Parameter(
            description="Only records changed after this instant (RFC 3339; delta sync)",
            max_length=64,
            schema_extra={"format": "date-time"},
        ),
    ] = None,
) -> PageQuery:
    """Litestar dependency: the same paging query parameters on every list endpoint."""
    # Bounded like body instants: PostgreSQL cannot even bind year 1 at a positive offset (a 500).
    since = body_instant(parse_instant(updated_since), "updated_since")
    return PageQuery(limit=limit, cursor=cursor, updated_since=since)


def parse_instant(value: str | None) -> datetime | None:
    """RFC 3339 only: a bare number or date is refused rather than guessed at."""
    if value is None:
        return None
    try:
        if "T" not in value.upper():
            raise ValueError("no time part")
        moment = datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise Unprocessable(f"{value!r} is not an RFC 3339 date-time", slug="invalid-date-time") from exc
    return as_utc(moment)


class Page(msgspec.Struct, Generic[T]):
    """A page of a list; pass `next_cursor` back as `cursor` until it is null."""

    items: list[T]
    next_cursor: str | None = None


def _encode_cursor(updated_at: datetime, record_id: str) -> str:
    raw = msgspec.json.encode([as_utc(updated_at).isoformat(), record_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# The id a cursor names, as ids are: PostgreSQL refuses a NUL in text (a 500).
_CursorId = Annotated[str, msgspec.Meta(max_length=64, pattern=whole(r"[^\x00]*"))]


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, record_id = msgspec.json.decode(raw, type=tuple[str, _CursorId])
        # Bounded as request instants are: year 9999 at -14:00 cannot even be turned to UTC.
        moment = body_instant(datetime.fromisoformat(stamp), "cursor")
    except (ValueError, msgspec.DecodeError, TypeError, Unprocessable) as exc:
        raise invalid_cursor() from exc
    assert moment is not None
    return moment, record_id


def invalid_cursor() -> Unprocessable:
    """A page cursor this API did not issue (or issued under another paging, or mangled)."""
    return Unprocessable("cursor is not one this API issued", slug="invalid-cursor", title="Invalid cursor")


def keyset(
    query: Select[Any],
    updated_at: ColumnElement[datetime] | InstrumentedAttribute[datetime],
    record_id: ColumnElement[str] | InstrumentedAttribute[str],
    *,
    limit: int,
    cursor: str | None,
    updated_since: datetime | None,
) -> Select[Any]:
    """Order by (updated_at, id) so a delta sync sees every change exactly once per pass."""
    if updated_since is not None:
        query = query.where(updated_at > as_utc(updated_since))
    if cursor:
        stamp, last_id = _decode_cursor(cursor)
        query = query.where(or_(updated_at > stamp, and_(updated_at == stamp, record_id > last_id)))
    return query.order_by(updated_at, record_id).limit(min(limit, MAX_LIMIT) + 1)


def page(rows: list[Any], limit: int, convert: Any) -> Page[Any]:
    """Build a Page from rows fetched with `keyset` (one extra row tells us there is more)."""
    limit = min(limit, MAX_LIMIT)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1].updated_at, rows[-1].id) if more and rows else None
    return Page(items=[convert(r) for r in rows], next_cursor=next_cursor)


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, current_version: int) -> None:
    """Refuse a write based on a stale read (RFC 9110 §13.1.1); absent If-Match is allowed."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if etag(current_version) not in wanted:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current version {current_version}",
            current_version=current_version,
            headers={"ETag": etag(current_version)},
        )


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def maybe_utc(moment: datetime | None) -> datetime | None:
    """For nullable timestamp columns (SQLite hands back naive datetimes; we store only UTC)."""
    return as_utc(moment) if moment is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


_EARLIEST, _LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


def body_instant(moment: datetime | None, field: str) -> datetime | None:
    """An instant taken from a request body, in UTC (naive means UTC). Years no plant record can
    have are refused with a 422 rather than stored, since SQLite keeps wall-clock text and a far
    offset near year 1 or 9999 cannot even be converted."""
    if moment is None:
        return None
    try:
        utc = as_utc(moment).astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not _EARLIEST <= utc < _LATEST:
        raise Unprocessable(f"{field} {moment.isoformat()} is outside 1900..2999", slug="invalid-date-time")
    return utc


def body_date(day: date | None, field: str) -> date | None:
    """A calendar day from a request (a report window, a due date), within the years a plant
    record can have, as `body_instant`: a 422 rather than dates that overflow when a day is
    added (9999-12-31) or that no record holds."""
    if day is not None and not _EARLIEST.date() <= day < _LATEST.date():
        raise Unprocessable(f"{field} {day.isoformat()} is outside 1900..2999", slug="invalid-date")
    return day


def check_window(start: datetime | None, end: datetime | None, what: str = "planned") -> None:
    """A period from a request or a record: its end may not come before its start (422)."""
    if start is not None and end is not None and as_utc(end) < as_utc(start):
        raise Unprocessable(
            f"{what}_end {as_utc(end).isoformat()} is before {what}_start {as_utc(start).isoformat()}",
            slug="invalid-window",
        )


# The annotation list handlers use for the `page_query` dependency (registered by each app).
Paged = NamedDependency[PageQuery]
