"""Flow instances as every process API shows them (`/<process>/v1/flows`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.models.common import Output


class FlowStep(Output, kw_only=True):
    name: str
    status: str  # done, skipped, pending, failed (the step a waiting or stalled flow is on)
    result: dict[str, Any] | None = None


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
