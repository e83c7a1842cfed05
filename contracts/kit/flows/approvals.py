"""Approval steps: a flow that waits, visibly, for a second person's yes before it goes on.

A step declared with an `Approval` does no work of its own. When the flow reaches it, the engine
records an approval request (subject, who asked, when to escalate) and parks the flow in
`awaiting_approval`, where no runner picks it up. Someone other than the one who asked approves
or rejects it through the flow API (`/approvals/{id}/approve|reject`, scope `<service>:approve`):
approval resumes the flow at that step, which then completes with who approved; rejection
cancels the flow, leaving everything before the step as it was. A request nobody answers within
its time is escalated (marked, noted in the timeline and announced by an event) once. An operator
cancelling the flow meanwhile withdraws its request: nobody is asked, or chased, any more.

Every request, escalation and decision is a change of an audited record, so a service that
migrates the audit table finds each in `GET <api>/audit`, with who decided (person via client).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec
from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit import outbox
from contracts.kit.flows.store import flow_metadata
from contracts.kit.paging import as_utc, maybe_utc, utcnow
from contracts.kit.records import RecordMixin, new_id
from contracts.kit.wire.flows import Approval as ApprovalView


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # its flow was cancelled before anyone decided


class _FlowRecords(DeclarativeBase):
    metadata = flow_metadata


class ApprovalRow(RecordMixin, _FlowRecords):
    __tablename__ = "kit_flow_approvals"
    __table_args__ = (UniqueConstraint("flow_id", "step", name="uq_kit_flow_approvals_step"),)
    flow_id: Mapped[str] = mapped_column(ForeignKey("kit_flows.id"), index=True)
    flow_type: Mapped[str] = mapped_column(String(100))
    step: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    requested_by: Mapped[str] = mapped_column(String(200))  # as the request names them
    # Who may not approve it (four eyes): `person:<id>` or `client:<id>` (contracts/kit/acting.py).
    requester_keys: Mapped[list[str]] = mapped_column(JSON)
    escalate_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    escalate_to: Mapped[str | None] = mapped_column(String(200), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(400), nullable=True)  # "P-7 (tablet-9) via ..."
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


EventFactory = Callable[..., msgspec.Struct]


@dataclass(frozen=True)
class ApprovalEvents:
    """The service's own event types for its approvals (each takes `approval_fields`' keywords)."""

    requested: EventFactory
    escalated: EventFactory
    decided: EventFactory


@dataclass(frozen=True)
class Approval:
    """What a flow asks a second person to approve, of the flow's data."""

    subject: Callable[[Any], str]  # the flow context -> what is to be approved, in words
    requested_by: Callable[[Any], str]  # -> who asked (as shown)
    requester_keys: Callable[[Any], list[str]]  # -> who may therefore not approve
    escalate_after: Callable[[Any], timedelta]
    escalate_to: Callable[[Any], str | None]
    events: ApprovalEvents | None = None


def approval_fields(row: ApprovalRow) -> dict[str, Any]:
    """What the service's approval events carry."""
    return {
        "approval_id": row.id,
        "flow_id": row.flow_id,
        "flow_type": row.flow_type,
        "subject": row.subject,
        "status": row.status,
        "requested_by": row.requested_by,
        "escalate_to": row.escalate_to,
        "decided_by": row.decided_by,
        "comment": row.comment,
    }


async def announce(
    session: AsyncSession, source: str, approval: Approval, row: ApprovalRow, which: str
) -> None:
    """Publish the service's event for what happened to the approval (requested, escalated, decided)."""
    if approval.events is not None:
        event = getattr(approval.events, which)(**approval_fields(row))
        await outbox.publish(session, source, row.flow_id, event)


async def of_step(session: AsyncSession, flow_id: str, step: str) -> ApprovalRow | None:
    found: ApprovalRow | None = await session.scalar(
        select(ApprovalRow).where(ApprovalRow.flow_id == flow_id, ApprovalRow.step == step)
    )
    return found


async def overdue(session: AsyncSession, now: datetime) -> list[ApprovalRow]:
    """Pending approvals past their escalation time and not yet escalated (oldest first)."""
    found = await session.scalars(
        select(ApprovalRow)
        .where(
            ApprovalRow.status == ApprovalStatus.PENDING,
            ApprovalRow.escalated_at.is_(None),
            ApprovalRow.escalate_at <= now,
        )
        .order_by(ApprovalRow.escalate_at)
        .limit(100)
    )
    return list(found)


async def withdraw(session: AsyncSession, flow_id: str, why: str) -> None:
    """A cancelled flow waits for nobody: its pending request leaves the approvers' queue and is
    never escalated (otherwise someone would be chased to decide on a flow that cannot go on)."""
    waiting = (ApprovalRow.flow_id == flow_id, ApprovalRow.status == ApprovalStatus.PENDING)
    pending = await session.scalars(select(ApprovalRow).where(*waiting))
    for row in pending:
        row.status, row.decided_at, row.comment = ApprovalStatus.WITHDRAWN, utcnow(), why
    await session.flush()


def request(flow_id: str, flow_type: str, step: str, approval: Approval, ctx: Any) -> ApprovalRow:
    after = approval.escalate_after(ctx)
    return ApprovalRow(
        id=new_id("APR"),
        flow_id=flow_id,
        flow_type=flow_type,
        step=step,
        subject=approval.subject(ctx)[:4000],
        status=ApprovalStatus.PENDING,
        requested_by=approval.requested_by(ctx)[:200],
        requester_keys=approval.requester_keys(ctx),
        escalate_at=utcnow() + after if after > timedelta(0) else None,
        escalate_to=approval.escalate_to(ctx),
    )


def view(row: ApprovalRow) -> ApprovalView:
    return ApprovalView(
        approval_id=row.id,
        flow_id=row.flow_id,
        flow_type=row.flow_type,
        step=row.step,
        subject=row.subject,
        status=row.status,
        requested_by=row.requested_by,
        requested_at=as_utc(row.created_at),
        escalate_at=maybe_utc(row.escalate_at),
        escalate_to=row.escalate_to,
        escalated_at=maybe_utc(row.escalated_at),
        decided_by=row.decided_by,
        decided_at=maybe_utc(row.decided_at),
        comment=row.comment,
        version=row.version,
    )


__all__ = [
    "Approval",
    "ApprovalEvents",
    "ApprovalRow",
    "ApprovalStatus",
    "announce",
    "approval_fields",
    "of_step",
    "overdue",
    "request",
    "view",
]
