"""CMMS tables. Only this service reads or writes them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.paging import utcnow
from contracts.kit.records import RecordMixin, UTCDateTime, child_rows


class Base(DeclarativeBase):
    pass


class AssetRow(RecordMixin, Base):
    __tablename__ = "assets"
    tag: Mapped[str] = mapped_column(String(64), index=True)
    serial: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str] = mapped_column(String(200))
    site: Mapped[str] = mapped_column(String(64), index=True)
    location: Mapped[str | None] = mapped_column(String(40), nullable=True)
    criticality: Mapped[str] = mapped_column(String(1), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    cost_centre: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # [{item_id, quantity, uom}]: what a job on the asset usually takes (its maintenance BOM).
    spare_parts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)


class DowntimeRow(RecordMixin, Base):
    __tablename__ = "downtimes"
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    maintenance_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    work_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class MaintenanceRequestRow(RecordMixin, Base):
    __tablename__ = "maintenance_requests"
    type: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(200))
    details: Mapped[str | None] = mapped_column(Text, nullable=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    nonconformance_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    production_order: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    requested_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # its incident


class WorkOrderRow(RecordMixin, Base):
    __tablename__ = "work_orders"
    request_id: Mapped[str | None] = mapped_column(
        ForeignKey("maintenance_requests.id"), nullable=True, index=True
    )
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(30), index=True)
    hold_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    planned_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    planned_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    actual_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    actual_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failure_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    downtime_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    correction_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    cost_centre: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    production_order: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nonconformance_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    costs_posted: Mapped[bool] = mapped_column(Boolean, default=False)
    costs_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cost_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cost_posting_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    planned_parts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    planned_parts_from: Mapped[str | None] = mapped_column(String(10), nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # its incident
    parts: Mapped[list[PartLineRow]] = child_rows("PartLineRow.line_no")
    labor: Mapped[list[LaborLineRow]] = child_rows("LaborLineRow.line_no")


class PartLineRow(Base):
    """A spare part used on a work order (what ERP will issue against the order)."""

    __tablename__ = "work_order_parts"
    wo_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64))
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[float] = mapped_column(Float)
    uom: Mapped[str] = mapped_column(String(10))
    warehouse: Mapped[str] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(40), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LaborLineRow(Base):
    __tablename__ = "work_order_labor"
    wo_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(String(64))
    hours: Mapped[float] = mapped_column(Float)
    rate: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    work_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
