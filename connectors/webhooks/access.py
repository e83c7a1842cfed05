"""Which event types a partner client may subscribe to, and which events it may be sent.

The types are the AsyncAPI catalogue's (`contracts/asyncapi/`). A subscription never widens what
its client may read through the APIs:
- a supplier's client (its token names a `supplier_id`) may subscribe only to the event types of
  records the supplier portal shows, and is sent an event only when the portal would show that
  supplier the record (`contracts.tenancy`, the portal's own rule);
- any other client may subscribe to a system's events only with that system's read scope
  (`qms.*` needs `qms:read`, `erp.*` needs `erp:read`, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.asyncapi import load_catalogue
from contracts.kit.auth import Principal
from contracts.kit.envelope import CloudEvent, EventType
from contracts.kit.problems import Problem
from contracts.tenancy import sees_case

Tenant = Callable[[Any], str | None]  # event data -> the supplier who may see it, if any


def _inspection(data: Any) -> str | None:
    supplier: str | None = data.supplier_id  # the portal shows a supplier its own lots' inspections
    return supplier or None


def _case(status_field: str) -> Tenant:
    def tenant(data: Any) -> str | None:
        supplier: str = data.supplier_id
        # Events carry the case's new status; a case shown once is never a draft again.
        return supplier if sees_case(supplier, supplier, getattr(data, status_field), issued=False) else None

    return tenant


# Event types whose records the supplier portal shows a supplier, and whose record it is.
SUPPLIER_EVENTS: dict[str, Tenant] = {
    "qms.inspection_lot.created.v1": _inspection,
    "qms.inspection_lot.status_changed.v1": _inspection,
    "qms.inspection.results_recorded.v1": _inspection,
    "qms.usage_decision.made.v1": _inspection,
    "qms.supplier_case.opened.v1": _case("status"),
    "qms.supplier_case.status_changed.v1": _case("to_status"),
}


def catalogue() -> dict[str, EventType]:
    return load_catalogue()


def read_scope(event_type: str) -> str:
    """`qms.inspection_lot.created.v1` -> `qms:read`: the scope that reads the event's records."""
    return f"{event_type.split('.', 1)[0]}:read"


def subscribable(principal: Principal) -> list[EventType]:
    """The catalogue's types this caller may subscribe to."""
    known = catalogue()
    if principal.supplier_id:
        return [known[name] for name in SUPPLIER_EVENTS if name in known]
    return [t for t in known.values() if principal.has(read_scope(t.name))]


def check_subscribable(principal: Principal, event_types: list[str]) -> list[str]:
    """The requested types, deduplicated in order; 422 naming each unknown or unreadable one."""
    known = catalogue()
    allowed = {t.name for t in subscribable(principal)}
    wanted = list(dict.fromkeys(event_types))
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise Problem(
            f"Not in the event catalogue: {', '.join(unknown)} (GET /webhooks/v1/event-types lists them).",
            status=422,
            slug="unknown-event-type",
            title="Unknown event type",
            event_types=unknown,
        )
    refused = [t for t in wanted if t not in allowed]
    if refused:
        why = (
            "a supplier's client may subscribe only to events about records the supplier portal shows it"
            if principal.supplier_id
            else "the token may not read these records ("
            + ", ".join(sorted({read_scope(t) for t in refused}))
            + ")"
        )
        raise Problem(
            f"Not allowed: {', '.join(refused)}: {why}.",
            status=403,
            slug="event-type-not-readable",
            title="Event type not readable",
            event_types=refused,
        )
    return wanted


def tenant_of(event: CloudEvent) -> str | None:
    """The supplier who may be sent this event (None: no supplier may)."""
    rule = SUPPLIER_EVENTS.get(event.type)
    return rule(event.data) if rule is not None and not isinstance(event.data, dict) else None


def receives(subscription_supplier: str | None, event_tenant: str | None) -> bool:
    """A supplier's subscription gets only its own records' events; others get all they chose."""
    return subscription_supplier is None or subscription_supplier == event_tenant
