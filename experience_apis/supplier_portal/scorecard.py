"""A supplier's scorecard, from history only (pure: unit-tested without servers).

Received quantity is what each goods receipt received (ERP's receipts never change); rejected
quantity is what the usage decision moved (QMS records it when the stock is posted), or, until it
is posted, what was received of the lot. Returning the rejected stock, issuing the good stock to
production or scrapping it later changes neither, so a figure once shown stays true.

Lots count in the period they were received (their rejection with them, so the ppm of a period
compares the same lots); a case's on-time answer counts in the period of its due date, its
response time in the period of its first answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from contracts.models import erp, qms
from contracts.models import supplier as m

REJECTING = frozenset({qms.Disposition.BLOCK, qms.Disposition.SCRAP, qms.Disposition.RETURN})
OPEN = frozenset(
    {qms.SupplierCaseStatus.ISSUED, qms.SupplierCaseStatus.RESPONSE_RECEIVED, qms.SupplierCaseStatus.REJECTED}
)


@dataclass(frozen=True, slots=True)
class Delivered:
    lot_id: str
    quantity: float
    on: date  # first receipt of the lot


@dataclass(frozen=True, slots=True)
class Rejected:
    lot_id: str
    quantity: float
    on: date  # when its lot was received (or, for a lot received elsewhere, decided)


@dataclass(frozen=True, slots=True)
class Answered:
    due: date | None
    issued_on: date
    first_answer: date | None
    days: float | None  # issue → first answer


def deliveries(receipts: Iterable[erp.GoodsReceipt]) -> dict[str, Delivered]:
    """Per lot: the quantity its purchase receipts received, and the day of the first."""
    lots: dict[str, Delivered] = {}
    for r in receipts:
        if r.source != "purchase":
            continue
        day = r.created_at.date()
        known = lots.get(r.lot_id)
        lots[r.lot_id] = (
            Delivered(r.lot_id, round(known.quantity + r.quantity, 3), min(known.on, day))
            if known
            else Delivered(r.lot_id, r.quantity, day)
        )
    return lots


def rejections(inspections: Iterable[qms.InspectionLot], lots: dict[str, Delivered] | None) -> list[Rejected]:
    """Per lot, its latest inspection if that rejects it: decided block, scrap or return, or
    failed and not yet decided."""
    latest: dict[str, qms.InspectionLot] = {}
    for i in sorted(inspections, key=lambda i: i.created_at):
        latest[i.lot_id] = i
    found = []
    for lot_id, i in latest.items():
        decision = i.usage_decision
        rejected = decision.disposition in REJECTING if decision else i.result == qms.LotResult.FAIL
        if not rejected:
            continue
        delivered = (lots or {}).get(lot_id)
        if decision is not None and i.stock_posted_quantity is not None:
            quantity = i.stock_posted_quantity  # what the decision moved
        else:
            quantity = delivered.quantity if delivered else 0.0
        on = delivered.on if delivered else (decision.decided_at if decision else i.created_at).date()
        found.append(Rejected(lot_id, quantity, on))
    return found


def answers(cases: Iterable[qms.SupplierCase]) -> list[Answered]:
    found = []
    for case in cases:
        first = min((r.responded_at for r in case.responses), default=None)
        start = (
            case.issued_at
            if case.issued_at and (first is None or case.issued_at <= first)
            else case.created_at
        )
        days = max(0.0, (first - start).total_seconds() / 86400) if first else None
        found.append(Answered(case.due_date, start.date(), first.date() if first else None, days))
    return found


def figures(
    lots: list[Delivered] | None,
    rejected: list[Rejected],
    cases: list[Answered],
    start: date | None,
    end: date | None,
    today: date,
) -> m.ScorecardFigures:
    def within(day: date | None) -> bool:
        return day is not None and (start is None or day >= start) and (end is None or day <= end)

    received = [d for d in lots or [] if within(d.on)]
    refused = [r for r in rejected if within(r.on)]
    received_quantity = round(sum(d.quantity for d in received), 3)
    rejected_quantity = round(sum(r.quantity for r in refused), 3)
    answered = [c for c in cases if c.days is not None and within(c.first_answer)]
    due = [c for c in cases if within(c.due) and (c.first_answer is not None or (c.due or today) < today)]
    on_time = sum(1 for c in due if c.first_answer is not None and c.due and c.first_answer <= c.due)
    return m.ScorecardFigures(
        lots_received=len(received),
        received_quantity=received_quantity,
        lots_rejected=len(refused),
        rejected_quantity=rejected_quantity,
        reject_rate_ppm=round(rejected_quantity / received_quantity * 1_000_000)
        if lots is not None and received_quantity
        else None,
        responded_cases=len(answered),
        average_response_days=round(sum(c.days or 0.0 for c in answered) / len(answered), 2)
        if answered
        else None,
        on_time_response_rate=round(on_time / len(due), 4) if due else None,
    )


def periods(kind: m.Period, first: date, last: date) -> Iterator[tuple[str, date, date]]:
    """(name, first day, last day) of every period from the one holding `first` to `last`'s."""
    start = date(first.year, 1 if kind == m.Period.YEAR else _quarter_month(first, kind), 1)
    while start <= last:
        months = {m.Period.MONTH: 1, m.Period.QUARTER: 3, m.Period.YEAR: 12}[kind]
        year, month = divmod(start.month - 1 + months, 12)
        following = date(start.year + year, month + 1, 1)
        name = {
            m.Period.MONTH: f"{start.year}-{start.month:02d}",
            m.Period.QUARTER: f"{start.year}-Q{(start.month - 1) // 3 + 1}",
            m.Period.YEAR: f"{start.year}",
        }[kind]
        yield name, start, following - timedelta(days=1)
        start = following


def _quarter_month(day: date, kind: m.Period) -> int:
    return day.month if kind == m.Period.MONTH else (day.month - 1) // 3 * 3 + 1


def scorecard(
    supplier_id: str,
    cases: list[qms.SupplierCase],
    inspections: list[qms.InspectionLot],
    receipts: list[erp.GoodsReceipt] | None,
    today: date,
    warnings: list[tuple[str, str]],
    *,
    since: date | None = None,
    until: date | None = None,
    period: m.Period | None = None,
) -> m.Scorecard:
    delivered = deliveries(receipts) if receipts is not None else None
    lots = list(delivered.values()) if delivered is not None else None
    rejected = rejections(inspections, delivered)
    answered = answers(cases)
    total = figures(lots, rejected, answered, since, until, today)
    breakdown = []
    if period is not None:
        seen = [d.on for d in lots or []] + [r.on for r in rejected] + [c.issued_on for c in answered]
        first, last = since or min(seen, default=today), until or today
        for name, start, end in periods(period, first, last):
            shown = figures(lots, rejected, answered, start, end, today)
            breakdown.append(m.ScorecardPeriod(period=name, start=start, end=end, **_fields(shown)))
    return m.Scorecard(
        supplier_id=supplier_id,
        **_fields(total),
        open_cases=sum(1 for c in cases if c.status in OPEN),
        warnings=[m.UpstreamWarning(source=s, detail=d) for s, d in warnings],
        since=since,
        until=until,
        periods=breakdown,
    )


def _fields(shown: m.ScorecardFigures) -> dict[str, Any]:
    return {f: getattr(shown, f) for f in shown.__struct_fields__}
