"""Reconciliation that repairs: a periodic pass compares what QMS decided about each lot with ERP's
stock and the MES batches' quality status, records every disagreement, and (in `repair` mode, or
when an operator asks) repairs it by re-running the hold, the release or the MES status through
the same idempotent steps the decision flows use.

Which decisions are compared: each lot's latest usage decision whose stock the decision flow has
posted (QMS `stock_posted` or `closed`), changed within the look-back. A decision still being
posted belongs to its flow, not to reconciliation. The rule of what a decision allows, and which
nonconformance disposition explains a difference, is `contracts/holds.py` (shared with the
operations monitors).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import holds
from contracts.clients.answers import UPSTREAM_ERRORS
from contracts.clients.base import UpstreamProblem
from contracts.kit import correlation, flows
from contracts.kit.db import Database
from contracts.kit.problems import Conflict
from contracts.kit.records import new_id
from contracts.kit.repository import to_wire
from contracts.models import erp, mes, qms, xref
from contracts.models import quality as m
from process_apis.quality.deps import Ctx, Upstreams
from process_apis.quality.flows import move_lot, quality_ref
from process_apis.quality.identities import ERP, LOT, translate
from process_apis.quality.shopfloor import tell_mes
from process_apis.quality.store import DisagreementRow

log = logging.getLogger("plantbridge.quality.reconciliation")
K, S = m.DisagreementKind, m.DisagreementStatus
BLK = erp.StockStatus.BLOCKED
FREE = (erp.StockStatus.QUALITY_INSPECTION, erp.StockStatus.UNRESTRICTED)
POSTED = (qms.InspectionLotStatus.STOCK_POSTED, qms.InspectionLotStatus.CLOSED)
LIVE = (S.OPEN, S.REPAIRING, S.REPAIRED)


@dataclass(frozen=True)
class Found:
    lot_id: str
    kind: m.DisagreementKind
    summary: str
    disposition: str
    inspection_lot_id: str
    nc_ids: list[str]
    observed: dict[str, Any]


@dataclass(frozen=True)
class LotView:
    """Everything the comparison needs about one lot, as each system shows it."""

    decision: qms.InspectionLot
    ncs: list[qms.Nonconformance]
    balances: list[erp.Balance]
    batches: list[mes.BatchCompletion]


def compare(view: LotView) -> list[Found]:
    """The lot's disagreements (pure: unit-tested without I/O)."""
    il, ud = view.decision, view.decision.usage_decision
    assert ud is not None
    said, open_nc = holds.nonconformances(view.ncs)
    disposition = holds.effective_disposition(ud.disposition.value, said)
    free = round(sum(b.quantity for b in view.balances if b.status in FREE), 3)
    blocked = round(sum(b.quantity for b in view.balances if b.status == BLK), 3)
    observed: dict[str, Any] = {
        "erp_balances": [
            {"location": b.location, "status": b.status.value, "quantity": b.quantity} for b in view.balances
        ],
        "mes_batches": [{"batch_id": b.batch_id, "quality_status": b.quality_status} for b in view.batches],
    }

    def found(kind: m.DisagreementKind, summary: str) -> Found:
        return Found(
            il.lot_id, kind, summary, disposition, il.inspection_lot_id, [n.nc_id for n in view.ncs], observed
        )

    out = []
    if free > 0 and not holds.free_stock_allowed(ud.disposition.value, said):
        out.append(
            found(K.HOLD_NOT_IN_ERP, f"QMS holds the lot ({disposition}); ERP has {free:g} not BLOCKED")
        )
    if blocked > 0 and not holds.blocked_stock_allowed(ud.disposition.value, said, open_nc):
        out.append(
            found(K.BLOCK_NOT_IN_QMS, f"QMS freed the lot ({disposition}); ERP holds {blocked:g} BLOCKED")
        )
    expected = holds.BATCH_STATUS.get(disposition)
    wrong = [b.batch_id for b in view.batches if expected and b.quality_status != expected]
    if wrong:
        out.append(found(K.MES_STATUS, f"MES batches {', '.join(wrong)} are not {expected} ({disposition})"))
    return out


# --- one pass ------------------------------------------------------------------------------------
@dataclass
class Pass:
    mode: str
    checked: int = 0
    warnings: list[str] = field(default_factory=list)


async def _view(deps: Upstreams, il: qms.InspectionLot) -> LotView | None:
    try:
        lot = await deps.erp.get_lot(il.lot_id)
    except UpstreamProblem as exc:
        if exc.status == 404:
            return None  # ERP never knew the lot: the monitors report that, nothing to repair
        raise
    ncs = await deps.qms.find_nonconformances(lot_id=il.lot_id)
    mes_lot = await translate(deps, LOT, ERP, il.lot_id, xref.System.MES)
    return LotView(il, ncs, lot.balances, await deps.mes.list_batches(lot_id=mes_lot))


async def gather(deps: Upstreams, lookback_days: int, run: Pass) -> tuple[list[str], list[Found]]:
    """(the lots compared, their disagreements); a lot whose systems did not answer is skipped
    and named in the warnings, so its earlier findings stand."""
    since = datetime.now(UTC) - timedelta(days=lookback_days)
    decided = await deps.qms.latest_decisions(POSTED, updated_since=since.isoformat())
    slots = asyncio.Semaphore(8)

    async def one(il: qms.InspectionLot) -> LotView | BaseException | None:
        async with slots:
            try:
                return await _view(deps, il)
            except (*UPSTREAM_ERRORS, flows.StepFailed) as exc:
                return exc

    compared, found = [], []
    for il, view in zip(decided, await asyncio.gather(*(one(il) for il in decided)), strict=True):
        if isinstance(view, BaseException):
            run.warnings.append(f"lot {il.lot_id} not compared: {view}"[:300])
            continue
        compared.append(il.lot_id)
        if view is not None:
            found += compare(view)
    run.checked = len(compared)
    return compared, found


async def record(
    session: AsyncSession, compared: list[str], found: list[Found], now: datetime
) -> tuple[list[DisagreementRow], list[str]]:
    """Open, refresh or resolve the disagreements of the compared lots."""
    rows = (
        await session.scalars(
            select(DisagreementRow).where(
                DisagreementRow.lot_id.in_(compared), DisagreementRow.status.in_(LIVE)
            )
        )
    ).all()
    live = {(r.lot_id, r.kind): r for r in rows}
    current = []
    for f in found:
        row = live.pop((f.lot_id, f.kind), None)
        if row is None:
            row = DisagreementRow(
                id=new_id("DIS"),
                lot_id=f.lot_id,
                kind=f.kind,
                status=S.OPEN,
                found_at=now,
                resolved_at=None,
                repair_flow_id=None,
                repairs=0,
            )
            session.add(row)
        elif row.status == S.REPAIRED:
            row.status = S.OPEN  # the repair did not hold: out of step again
        row.summary, row.disposition, row.inspection_lot_id = (
            f.summary[:300],
            f.disposition,
            f.inspection_lot_id,
        )
        row.nc_ids, row.observed, row.last_seen_at = f.nc_ids, f.observed, now
        current.append(row)
    resolved = []
    for row in live.values():
        row.status, row.resolved_at = S.RESOLVED, now
        resolved.append(row.id)
    await session.flush()
    return current, resolved


async def run_once(
    deps: Upstreams, session: AsyncSession, mode: str, lookback_days: int
) -> m.ReconciliationRun:
    """Compare, then record (and start repairs) in `session`: the request's transaction when an
    operator asked for the pass (the audit trail names them), the job's own otherwise."""
    now = datetime.now(UTC)
    run = Pass(mode)
    compared, found = await gather(deps, lookback_days, run)
    started = []
    current, resolved = await record(session, compared, found, now)
    if mode == "repair":
        for row in current:
            if row.status == S.OPEN:
                started.append(await start_repair(session, row))
    log.info(
        "reconciliation (%s): %d lots, %d out of step, %d repairs",
        mode,
        run.checked,
        len(current),
        len(started),
    )
    return m.ReconciliationRun(
        mode=mode,
        checked_at=now,
        lots_checked=run.checked,
        found=[r.id for r in current],
        resolved=resolved,
        repairs_started=started,
        warnings=run.warnings,
    )


# --- repairs -------------------------------------------------------------------------------------
async def start_repair(session: AsyncSession, row: DisagreementRow) -> str:
    """Start the repair flow of an open disagreement (in the caller's transaction)."""
    if row.status not in (S.OPEN, S.REPAIRED):
        raise Conflict(
            f"disagreement {row.id} is {row.status}; only an open one is repaired",
            slug="illegal-transition",
            current_state=row.status,
            action="repair",
        )
    data = {
        "disagreement_id": row.id,
        "kind": row.kind,
        "lot_id": row.lot_id,
        "disposition": row.disposition,
        "inspection_lot_id": row.inspection_lot_id,
    }
    row.repairs += 1
    keys = {"lot_id": row.lot_id, "disagreement_id": row.id}
    flow_id = await flows.start(
        session, REPAIR_LOT, data, keys=keys, trigger=f"repair:{row.id}:{row.repairs}"
    )
    row.status, row.repair_flow_id = S.REPAIRING, flow_id
    await session.flush()
    return flow_id


async def freeing_record(ctx: Ctx) -> erp.QualityRef:
    """The QMS record that frees the lot, which ERP asks for before stock leaves a hold
    (docs/holds.md): the latest nonconformance disposition when there is one, else the usage
    decision, as `holds.effective_disposition` reads them. Read now, so the repair names what
    QMS says at the time it releases."""
    d = ctx.data
    ncs = await ctx.deps.qms.find_nonconformances(lot_id=d["lot_id"])
    latest = max((nc for nc in ncs if nc.disposition), key=lambda nc: nc.updated_at, default=None)
    if latest is not None and latest.disposition is not None:
        return quality_ref(erp.QualityRecord.NONCONFORMANCE, latest.nc_id, latest.disposition.value)
    return quality_ref(erp.QualityRecord.USAGE_DECISION, d["inspection_lot_id"], d["disposition"])


async def restore_stock(ctx: Ctx) -> dict[str, Any]:
    d = ctx.data
    why = f"reconciliation {d['disagreement_id']}: QMS says {d['disposition']} ({d['inspection_lot_id']})"
    if d["kind"] == K.HOLD_NOT_IN_ERP:  # into BLOCKED: a hold needs no quality reference
        txn_ids, _ = await move_lot(ctx, erp.StockMovement.BLOCK, FREE, f"{why}; re-blocked")
    else:
        ref = await freeing_record(ctx)
        txn_ids, _ = await move_lot(
            ctx, erp.StockMovement.UNBLOCK, (BLK,), f"{why}; released", quality_ref=ref
        )
    return {"txn_ids": txn_ids}


async def mark_repaired(ctx: Ctx) -> dict[str, Any]:
    async with ctx.deps.db.transaction() as session:
        row = await session.get(DisagreementRow, ctx.data["disagreement_id"])
        if row is not None and row.repair_flow_id == ctx.flow_id and row.status == S.REPAIRING:
            row.status = S.REPAIRED
    return {"disagreement_id": ctx.data["disagreement_id"]}


REPAIR_LOT = flows.FlowType(
    "reconciliation_repair",
    "A disagreement reconciliation found is repaired through the decision flows' own steps: the lot's "
    "stock is re-blocked (or released) in ERP, or its MES batches get the quality status QMS decided.",
    (
        flows.Step("restore_stock", restore_stock, when=lambda ctx: ctx.data["kind"] != K.MES_STATUS),
        flows.Step("tell_mes", tell_mes, when=lambda ctx: ctx.data["kind"] == K.MES_STATUS),
        flows.Step("mark_repaired", mark_repaired),
    ),
    keys=("lot_id", "disagreement_id"),
)


def view(row: DisagreementRow) -> m.Disagreement:
    return to_wire(row, m.Disagreement, disagreement_id=row.id, repairable=row.status in (S.OPEN, S.REPAIRED))


# --- the periodic job ----------------------------------------------------------------------------
@dataclass
class Job:
    """One pass on demand (`POST /quality/v1/reconciliation/runs`) or every `every` seconds."""

    deps: Upstreams
    db: Database
    mode: str
    lookback_days: int

    async def run(self, session: AsyncSession, mode: str | None = None) -> m.ReconciliationRun:
        return await run_once(self.deps, session, mode or self.mode, self.lookback_days)

    async def loop(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                with correlation.bound(f"reconcile-{datetime.now(UTC):%Y%m%dT%H%M%S}", ""):
                    async with self.db.transaction() as session:
                        await self.run(session)
            except Exception:
                log.exception("reconciliation pass failed; the next one runs in %.0f s", every)
