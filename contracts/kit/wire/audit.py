"""Audit entries as every system API shows them (`GET /<service>/v<n>/audit`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from contracts.kit.wire import Output


class AuditAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class FieldChange(Output, kw_only=True):
    """One field's value before and after the change (null: it had none, or it has none now)."""

    before: Any = None
    after: Any = None


class AuditActor(Output, kw_only=True):
    """Who made the change: the OAuth2 client (or `consumer:<group>` for event handlers,
    `system` for work outside any request), and the person or supplier its token names. When a
    platform client (an experience API) made the call for someone, that someone, and `via` names
    the platform client: person P-1042 with client tablet-017 via technician-experience."""

    client_id: str
    person_id: str | None = None
    supplier_id: str | None = None
    via: str | None = None


class AuditEntry(Output, kw_only=True):
    """One record's change in one transaction. Entries are never changed or deleted."""

    audit_id: str
    at: datetime
    record_type: str  # the record's table, e.g. `lots`, `inspection_lots`
    record_id: str
    action: AuditAction
    version: int | None = None  # the record's version after the change (its ETag)
    # Changed fields only. Child rows are folded into their record as `<children>[<key>].<field>`,
    # e.g. `balances[WH1/BLOCKED].quantity`.
    changes: dict[str, FieldChange]
    actor: AuditActor
    # Why: the request's correlation id, the process flow whose step made the call, and the
    # event that caused it.
    correlation_id: str | None = None
    flow_id: str | None = None
    causation_id: str | None = None
