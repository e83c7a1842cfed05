"""What the console's pages show, gathered from the layers below in parallel."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from contracts.clients.audit import audit_page
from contracts.kit import operations as backbone
from contracts.kit.auth import Principal
from contracts.kit.wire.audit import AuditEntry
from contracts.kit.wire.flows import Approval, Flow, Timeline
from contracts.models.operations import Offender
from experience_apis.operations.monitors.base import FAILURES, Found
from experience_apis.operations.upstreams import AUDITED, Upstreams

SEARCH_KEYS = {
    "lot_id": "Lot",
    "order_id": "Production order",
    "work_order_id": "Work order",
    "correlation_id": "Correlation id",
}
SHOWN_LETTERS = 100


@dataclass
class Gathered:
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def warn(self, source: str, exc: Exception, consequence: str) -> None:
        found = Found()
        found.warn(source, exc, consequence)
        self.warnings.extend(found.warnings)


@dataclass
class FlowHit:
    process: str
    flow: Flow


async def search_flows(
    up: Upstreams, readable: list[str], by: str, value: str
) -> tuple[list[FlowHit], Gathered]:
    gathered = Gathered()
    asks = [p for p in up.processes if p in readable]
    answers = await asyncio.gather(
        *(up.processes[p].list_flows(**{by: value}) for p in asks), return_exceptions=True
    )
    hits: list[FlowHit] = []
    for process, answer in zip(asks, answers, strict=True):
        if isinstance(answer, FAILURES):
            gathered.warn(process, answer, f"{process} flows are missing")
        elif isinstance(answer, BaseException):
            raise answer
        else:
            hits.extend(FlowHit(process, f) for f in answer)
    hits.sort(key=lambda h: h.flow.created_at)
    return hits, gathered


async def flow_with_timeline(up: Upstreams, process: str, flow_id: str) -> tuple[Flow, Timeline]:
    client = up.processes[process]
    flow, timeline = await asyncio.gather(client.get_flow(flow_id), client.timeline(flow_id))
    return flow, timeline


async def pending_approvals(up: Upstreams) -> tuple[list[Approval], Gathered]:
    """What quality flows wait for, oldest request first."""
    gathered = Gathered()
    try:
        waiting = await up.quality.approvals()
    except FAILURES as exc:
        gathered.warn("quality", exc, "approvals are missing")
        return [], gathered
    return sorted(waiting, key=lambda a: a.requested_at), gathered


@dataclass
class StreamLetters:
    stats: backbone.StreamStats
    letters: list[backbone.DeadLetter]


async def dead_letter_board(up: Upstreams) -> list[StreamLetters]:
    board = []
    for stats in await backbone.all_stream_stats(up.redis):
        page = (
            await backbone.dead_letters(up.redis, stats.stream, limit=SHOWN_LETTERS)
            if stats.dead_letters
            else None
        )
        board.append(StreamLetters(stats, page.items if page else []))
    return board


@dataclass
class AuditHit:
    service: str
    entry: AuditEntry


async def audit_history(
    up: Upstreams, principal: Principal, filters: dict[str, str]
) -> tuple[list[AuditHit], Gathered, list[str]]:
    """Entries from every system API the person may read, merged oldest first."""
    gathered = Gathered()
    asks = [s for s in AUDITED if f"{s}:read" in principal.scopes]
    skipped = [s for s in AUDITED if s not in asks]
    answers = await asyncio.gather(
        *(audit_page(up.audited[s], filters) for s in asks), return_exceptions=True
    )
    hits: list[AuditHit] = []
    for service, answer in zip(asks, answers, strict=True):
        if isinstance(answer, FAILURES):
            gathered.warn(service, answer, f"{service}'s entries are missing")
        elif isinstance(answer, BaseException):
            raise answer
        else:
            hits.extend(AuditHit(service, e) for e in answer.items)
    hits.sort(key=lambda h: h.entry.at)
    return hits, gathered, skipped


def console_links(offender: Offender) -> list[tuple[str, str]]:
    """Where an offending record is looked at in the console."""
    base = "/operations/console"
    d: dict[str, Any] = offender.details
    kind, record = offender.record_type, offender.record_id
    links: list[tuple[str, str]] = []
    if kind == "lot":
        links.append(("flows", f"{base}/flows?{urlencode({'by': 'lot_id', 'value': record})}"))
    if kind == "flow":
        links.append(("timeline", f"{base}/flows/{quote(str(d['process']))}/{quote(record)}"))
    if kind == "work_order" and d.get("flow_id"):
        links.append(("completion flow", f"{base}/flows/maintenance/{quote(str(d['flow_id']))}"))
    if kind == "dead_letter":
        links.append(("inspect", f"{base}/dead-letters/{quote(record)}"))
    if kind in ("lot", "inspection_lot", "work_order", "supplier_case"):
        links.append(("audit", f"{base}/audit?{urlencode({'record_id': record})}"))
    return links
