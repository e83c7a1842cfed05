"""Use cases of the technician API: compose CMMS, QMS and ERP answers, in parallel.

CMMS is critical (no work orders, no answer: 503). QMS (the nonconformance) and ERP (spare-part
stock) are not: when they fail the answer says so in `warnings` instead of failing.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import msgspec

from contracts.clients.answers import critical, optional
from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.outbound import Clients
from contracts.clients.qms import QmsClient
from contracts.kit.auth import Principal
from contracts.kit.paging import PageQuery, utcnow
from contracts.kit.problems import IllegalTransition, NotFound, Problem
from contracts.kit.wire.projection import project
from contracts.models import cmms, cmms_completion, erp
from contracts.models import technician as m

T = TypeVar("T")
Warnings = list[tuple[str, str]]
NOT_FOUND = "No such work order among yours."
MAX_HISTORY_PAGES = 4


@dataclass
class Upstreams(Clients):
    cmms: CmmsClient
    qms: QmsClient
    erp: ErpClient
    history_limit: int = 5
    history_days: int = 365


@dataclass(frozen=True)
class Technician:
    person_id: str
    site: str
    client_id: str


def technician(principal: Principal) -> Technician:
    if not principal.person_id or not principal.site:
        raise Problem(
            "This API is for technicians: the token must name a person_id and a site.",
            status=403,
            slug="not-a-technician",
            title="Not a technician token",
        )
    return Technician(principal.person_id, principal.site, principal.client_id)


def cmms_call(call: Awaitable[T], not_found: str = NOT_FOUND) -> Awaitable[T]:
    """A CMMS call the answer cannot do without (`critical`)."""
    return critical("cmms", call, not_found)


# --- reading ---------------------------------------------------------------------------------------
async def my_work(up: Upstreams, who: Technician, query: PageQuery) -> m.MyWork:
    since = query.updated_since.isoformat() if query.updated_since else None
    page = await cmms_call(
        up.cmms.list_work_orders_page(
            assignee=who.person_id,
            site=who.site,
            limit=query.limit,
            cursor=query.cursor,
            updated_since=since,
        )
    )
    warnings: Warnings = []
    items = await enrich(up, page.items, warnings)
    return m.MyWork(items=items, next_cursor=page.next_cursor, warnings=_warnings(warnings))


async def work_item(up: Upstreams, who: Technician, wo_id: str) -> m.WorkItem:
    order = await owned(up, who, wo_id)
    warnings: Warnings = []
    return (await enrich(up, [order], warnings))[0]


async def owned(up: Upstreams, who: Technician, wo_id: str) -> cmms.WorkOrder:
    """The work order if it is the caller's (assigned to them, at their site); else 404, so
    nobody can tell another technician's order from one that does not exist."""
    order = await cmms_call(up.cmms.get_work_order(wo_id))
    if order.assignee != who.person_id or order.site != who.site:
        raise NotFound(NOT_FOUND)
    return order


async def enrich(up: Upstreams, orders: list[cmms.WorkOrder], warnings: Warnings) -> list[m.WorkItem]:
    """Every distinct asset, history, nonconformance and part is fetched once, all at the same time."""
    assets = sorted({o.asset_id for o in orders})
    ncs = sorted({o.nonconformance_id for o in orders if o.nonconformance_id})
    items = sorted({item for o in orders for item in _items(o)})
    per_item: Warnings = []
    results = await asyncio.gather(
        _each(assets, lambda a: cmms_call(up.cmms.get_asset(a), "The work order's asset is gone.")),
        _each(assets, lambda a: cmms_call(recent_history(up, a))),
        _each(ncs, lambda n: optional("qms", up.qms.get_nonconformance(n), per_item)),
        _each(items, lambda i: optional("erp", up.erp.get_item_stock(i), per_item)),
    )
    asset_of, history_of, nc_of, stock_of = results
    for entry in per_item:
        if entry not in warnings:
            warnings.append(entry)
    out = []
    for order in orders:
        own = [w for w in per_item if _concerns(w, order, nc_of, stock_of)]
        out.append(
            _work_item(
                order,
                asset_of.get(order.asset_id),
                history_of.get(order.asset_id),
                nc_of,
                stock_of,
                up.history_limit,
                own,
            )
        )
    return out


def _items(order: cmms.WorkOrder) -> set[str]:
    """The items whose stock the technician is shown: parts used and parts planned."""
    return {p.item_id for p in order.parts} | {p.item_id for p in order.planned_parts}


async def recent_history(up: Upstreams, asset_id: str) -> list[cmms.WorkOrder]:
    """The asset's work orders changed in the last `history_days` (CMMS lists oldest change first,
    so the window keeps the walk short and the newest are at the end)."""
    since = (utcnow() - timedelta(days=up.history_days)).isoformat()
    found: list[cmms.WorkOrder] = []
    cursor = None
    for _ in range(MAX_HISTORY_PAGES):
        page = await up.cmms.list_work_orders_page(
            asset_id=asset_id, limit=500, updated_since=since, cursor=cursor
        )
        found.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    return found


async def _each(keys: list[str], fetch: Callable[[str], Awaitable[T | None]]) -> dict[str, T]:
    values = await asyncio.gather(*(fetch(k) for k in keys))
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


def _concerns(
    warning: tuple[str, str], order: cmms.WorkOrder, ncs: dict[str, Any], stock: dict[str, Any]
) -> bool:
    source = warning[0]
    if source == "qms":
        return order.nonconformance_id is not None and order.nonconformance_id not in ncs
    if source == "erp":
        return any(item not in stock for item in _items(order))
    return True


def _work_item(
    order: cmms.WorkOrder,
    asset: cmms.Asset | None,
    history: list[cmms.WorkOrder] | None,
    ncs: dict[str, Any],
    stock: dict[str, erp.ItemStock],
    history_limit: int,
    warnings: Warnings,
) -> m.WorkItem:
    earlier = [h for h in history or [] if h.wo_id != order.wo_id]
    earlier.sort(key=lambda h: h.updated_at, reverse=True)
    nc = ncs.get(order.nonconformance_id or "")
    # The work order's own fields by name (its labor lines too); what it calls `parts` were used.
    return project(
        order,
        m.WorkItem,
        parts_used=[project(p, m.PartLine) for p in order.parts],
        asset=project(asset, m.AssetSummary) if asset else None,
        history=[project(h, m.HistoryEntry) for h in earlier[:history_limit]],
        nonconformance=project(nc, m.NonconformanceSummary) if nc else None,
        parts=_availability(order, stock),
        warnings=_warnings(warnings),
        planned_parts=[_planned(p, stock.get(p.item_id)) for p in order.planned_parts],
    )


def _planned(part: cmms.SparePart, stock: erp.ItemStock | None) -> m.PlannedPart:
    return m.PlannedPart(
        item_id=part.item_id,
        quantity=part.quantity,
        uom=part.uom,
        unrestricted=stock.unrestricted if stock else None,
        available=stock.unrestricted >= part.quantity if stock else None,
    )


def _availability(order: cmms.WorkOrder, stock: dict[str, erp.ItemStock]) -> list[m.PartAvailability]:
    needed: dict[str, tuple[float, str]] = {}
    for p in order.parts:
        quantity, _ = needed.get(p.item_id, (0.0, p.uom))
        needed[p.item_id] = (quantity + p.quantity, p.uom)
    return [
        m.PartAvailability(
            item_id=item,
            quantity=quantity,
            uom=uom,
            unrestricted=stock[item].unrestricted,
            available=stock[item].unrestricted >= quantity,
        )
        for item, (quantity, uom) in sorted(needed.items())
        if item in stock
    ]


def _warnings(found: Warnings) -> list[m.UpstreamWarning]:
    return [m.UpstreamWarning(source=s, detail=d) for s, d in found]


def body_etag(body: msgspec.Struct) -> str:
    """An ETag for a composed answer that has no version of its own (a page of work)."""
    return '"' + hashlib.sha256(msgspec.json.encode(body)).hexdigest()[:32] + '"'


# --- changing --------------------------------------------------------------------------------------
class Keys:
    """Idempotency keys for the calls one request makes downstream, derived from the client's
    key: a resent request sends the same keys, so CMMS replays instead of posting twice."""

    def __init__(self, who: Technician, client_key: str | None, wo_id: str, action: str) -> None:
        base = client_key or uuid.uuid4().hex
        self.base = hashlib.sha256(
            f"{who.client_id}\n{who.person_id}\n{wo_id}\n{action}\n{base}".encode()
        ).hexdigest()

    def __call__(self, step: str) -> str:
        return f"tech-{self.base[:40]}-{step}"


async def start(
    up: Upstreams, who: Technician, wo_id: str, if_match: str | None, key: str | None
) -> m.WorkItem:
    order = await owned(up, who, wo_id)
    action = "resume" if order.status == cmms.WorkOrderStatus.ON_HOLD else "start"
    keys = Keys(who, key, wo_id, "start")
    changed = await cmms_call(
        up.cmms.work_order_action(wo_id, action, None, idempotency_key=keys(action), if_match=if_match)
    )
    return await _answer(up, changed)


async def pause(
    up: Upstreams, who: Technician, wo_id: str, data: m.Pause, if_match: str | None, key: str | None
) -> m.WorkItem:
    await owned(up, who, wo_id)
    keys = Keys(who, key, wo_id, "pause")
    changed = await cmms_call(
        up.cmms.work_order_action(
            wo_id, "hold", cmms.Reason(reason=data.reason), idempotency_key=keys("hold"), if_match=if_match
        )
    )
    return await _answer(up, changed)


async def complete(
    up: Upstreams, who: Technician, wo_id: str, data: m.Completion, if_match: str | None, key: str | None
) -> m.WorkItem:
    """Parts, then labor, then technical completion. CMMS publishes cmms.work_order.completed.v1,
    which the maintenance process takes over (ERP issue, costs, closing). Only the first call
    checks If-Match: the later ones follow from it."""
    order = await owned(up, who, wo_id)
    completion = project(data, cmms.WorkOrderComplete)  # its parts and labor go first, below
    check_completable(order, completion)
    keys = Keys(who, key, wo_id, "complete")
    guard = if_match
    for n, part in enumerate(data.parts, start=1):
        line = project(part, cmms.PartLineCreate)
        await cmms_call(
            up.cmms.work_order_action(wo_id, "parts", line, idempotency_key=keys(f"part-{n}"), if_match=guard)
        )
        guard = None
    for n, hours in enumerate(data.labor, start=1):
        labor = project(hours, cmms.LaborLineCreate, person_id=who.person_id)
        await cmms_call(
            up.cmms.work_order_action(
                wo_id, "labor", labor, idempotency_key=keys(f"labor-{n}"), if_match=guard
            )
        )
        guard = None
    changed = await cmms_call(
        up.cmms.work_order_action(
            wo_id, "complete", completion, idempotency_key=keys("complete"), if_match=guard
        )
    )
    return await _answer(up, changed)


# An order in these states was completed. A resend of the completion that did it (its answer lost)
# is CMMS's to replay, call by call; any other completion CMMS refuses at its first call, which
# records nothing on an order no longer open.
COMPLETED = frozenset({cmms.WorkOrderStatus.TECHNICALLY_COMPLETE, cmms.WorkOrderStatus.CLOSED})


def check_completable(order: cmms.WorkOrder, completion: cmms.WorkOrderComplete) -> None:
    """Refuse before the first write what CMMS's completion call would refuse after it. Each CMMS
    call commits on its own: a completion refused there left its parts and labor recorded, and
    the corrected resend (a new request, a new key) recorded them again. The rule is CMMS's own
    (`cmms_completion`, and the order's `allowed_actions` for its state); CMMS checks it again."""
    if order.status in COMPLETED:
        return
    if "complete" not in order.allowed_actions:
        raise IllegalTransition("work order", order.status, "complete")
    cmms_completion.completed(order, completion)  # now=None: the end CMMS stamps is its own


async def _answer(up: Upstreams, order: cmms.WorkOrder) -> m.WorkItem:
    warnings: Warnings = []
    return (await enrich(up, [order], warnings))[0]
