"""Tables of the flow store, made by the kit's `kernel_flows` migration branch in each process
API's database (contracts/kit/migrations)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text

flow_metadata = MetaData()


class FlowStatus(StrEnum):
    RUNNING = "running"  # has a step to run now
    WAITING = "waiting"  # a step failed transiently; it runs again at next_run_at
    STALLED = "stalled"  # a step kept failing; an operator retries or cancels it
    AWAITING_APPROVAL = "awaiting_approval"  # a step waits for a second person's yes (approvals.py)
    COMPLETED = "completed"
    CANCELLED = "cancelled"


ACTIVE = (FlowStatus.RUNNING, FlowStatus.WAITING)

flows = Table(
    "kit_flows",
    flow_metadata,
    Column("id", String(64), primary_key=True),
    Column("type", String(100), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("data", JSON, nullable=False),
    Column("results", JSON, nullable=False),
    Column("next_step", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("correlation_id", String(128), nullable=False, index=True),
    Column("traceparent", String(64), nullable=False),
    Column("trigger", String(200), nullable=True, unique=True),  # event id or key that started it
    # The event that caused it (its id and type): the link from an incident's flows to its events.
    Column("causation_id", String(128), nullable=True),
    Column("causation_type", String(200), nullable=True),
    # The message that started it (stream, group, entry, fields): dead-lettered if the flow stalls.
    Column("trigger_delivery", JSON, nullable=True),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    # Which runner may run it, until when, and the fencing token of that lease (leases.py).
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_generation", Integer, nullable=False, server_default="0"),
    # The upstream a waiting flow's step could not reach: retried as soon as it answers again.
    Column("waiting_on", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
)
Index("ix_kit_flows_due", flows.c.status, flows.c.next_run_at)

# Searchable business keys of a flow (lot_id, order_id, supplier_id, ...).
flow_keys = Table(
    "kit_flow_keys",
    flow_metadata,
    Column("flow_id", String(64), ForeignKey("kit_flows.id"), primary_key=True),
    Column("name", String(50), primary_key=True),
    Column("value", String(200), nullable=False),
)
Index("ix_kit_flow_keys_lookup", flow_keys.c.name, flow_keys.c.value)

timeline = Table(
    "kit_flow_timeline",
    flow_metadata,
    Column("flow_id", String(64), ForeignKey("kit_flows.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("step", String(100), nullable=True),
    Column("detail", Text, nullable=True),
)
