"""Keyset pagination with delta sync, ETags and If-Match: one shape for every list and record."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import Parameter
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from contracts.kit.problems import PreconditionFailed, Problem

T = TypeVar("T")
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The paging arguments every list takes."""

    limit: int = 50
    cursor: str | None = None
    updated_since: datetime | None = None


def provide_page_query(
    limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Page size")] = 50,
    cursor: Annotated[str | None, Parameter(max_length=200, description="next_cursor of the previous page")] = None,
    updated_since: Annotated[
        datetime | None, Parameter(description="Only records changed after this instant (delta sync)")
    ] = None,
) -> PageQuery:
    """Litestar dependency: the same paging query parameters on every list endpoint."""
    return PageQuery(limit=limit, cursor=cursor, updated_since=updated_since)


class Page(msgspec.Struct, Generic[T]):
    """A page of a list; pass `next_cursor` back as `cursor` until it is null."""

    items: list[T]
    next_cursor: str | None = None


def _encode_cursor(updated_at: datetime, record_id: str) -> str:
    raw = msgspec.json.encode([as_utc(updated_at).isoformat(), record_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, record_id = msgspec.json.decode(raw, type=tuple[str, str])
        return datetime.fromisoformat(stamp), record_id
    except (ValueError, msgspec.DecodeError, TypeError) as exc:
        raise Problem("cursor is not one this API issued", slug="invalid-cursor", title="Invalid cursor") from exc


def keyset(
    query: Select[Any],
    updated_at: InstrumentedAttribute[datetime],
    record_id: InstrumentedAttribute[str],
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


def utcnow() -> datetime:
    return datetime.now(UTC)
