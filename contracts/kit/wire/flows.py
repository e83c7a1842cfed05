"""Flow instances as every process API shows them (`/<process>/v1/flows`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.kit.wire import Input, Output, Text


class FlowStep(Output, kw_only=True):
    name: str
    status: str  # done, skipped, pending, failed (the step a waiting or stalled flow is on)
    result: dict[str, Any] | None = None


class Approval(Output, kw_only=True):
    """A flow step waiting for (or given) a second person's yes."""

    approval_id: str
    flow_id: str
    flow_type: str
    step: str
    subject: str  # what is to be approved, in words
    status: str  # pending, approved, rejected, withdrawn (its flow was cancelled)
    requested_by: str
    requested_at: datetime
    escalate_at: datetime | None  # when a request still pending is escalated
    escalate_to: str | None
    escalated_at: datetime | None
    decided_by: str | None  # "P-7 (tablet-9) via operations": the person, their client, and via whom
    decided_at: datetime | None
    comment: str | None
    version: int


class ApprovalDecision(Input, kw_only=True):
    """A rejection needs a comment saying why; an approval may have one."""

    comment: Text | None = None


class Flow(Output, kw_only=True):
    flow_id: str
    type: str
    status: str
    correlation_id: str
    keys: dict[str, str]
    data: dict[str, Any]
    steps: list[FlowStep]
    attempts: int
    last_error: str | None
    next_run_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    # The event that started it (its id and CloudEvents type); its source's audit trail finds the
    # changes it caused with `?causation_id=`. None for a flow started through the API.
    causation_id: str | None = None
    causation_type: str | None = None
    approval: Approval | None = None  # the step's approval, while awaiting it or once given


class TimelineEntry(Output, kw_only=True):
    seq: int
    at: datetime
    kind: str
    step: str | None
    detail: str | None


class Timeline(Output, kw_only=True):
    flow_id: str
    entries: list[TimelineEntry]
    # The flow's correlation id: find the audit entries of its calls with `/audit?correlation_id=`.
    correlation_id: str | None = None
