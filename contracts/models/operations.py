"""Operations API v1 (`/operations/v1`): business monitors, each listing its offending records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from contracts.models.common import Output


class UpstreamWarning(Output, kw_only=True):
    """Part of the answer could not be fetched; the rest is still right."""

    source: str  # the upstream, e.g. "erp"
    detail: str


class Offender(Output, kw_only=True):
    """One record a monitor found out of order, with where to look at it."""

    record_type: str  # lot, inspection_lot, flow, stream, consumer_group, work_order, supplier_case
    record_id: str
    summary: str
    since: datetime | None = None  # when it became (or was due to stop being) a problem, if known
    links: dict[str, str] = msgspec.field(
        default_factory=dict,
        # Public paths behind the gateway, by relation: "erp", "qms", "flow", "timeline", ...
    )
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class MonitorPage(Output, kw_only=True):
    """One monitor's offending records, a page at a time (oldest problem first)."""

    name: str
    title: str
    description: str
    count: int  # offending records in all pages
    complete: bool  # false when an upstream did not answer (see warnings)
    checked_at: datetime
    items: list[Offender]
    next_cursor: str | None = None
    warnings: list[UpstreamWarning] = msgspec.field(default_factory=list)


class MonitorSummary(Output, kw_only=True):
    name: str
    title: str
    count: int
    complete: bool
    href: str  # this monitor's records


class MonitorList(Output, kw_only=True):
    """Every monitor with its count; a monitor whose upstream is down says so in `warnings`."""

    checked_at: datetime
    items: list[MonitorSummary]
    next_cursor: str | None = None
    warnings: list[UpstreamWarning] = msgspec.field(default_factory=list)
