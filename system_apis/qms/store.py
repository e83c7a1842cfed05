"""QMS tables. Only this service reads or writes them.

Short lists that are always read with their record (codes, linked ids, CAPA actions, supplier
responses) are JSON columns; assign a new list to change one, so the change is seen.
Inspection results are rows of their own with value, unit and uncertainty, so a v2 of
results can serve structured measurements over the same data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.records import RecordMixin, UTCDateTime, child_rows

JsonList = list[Any]


class Base(DeclarativeBase):
    pass


class InspectionLotRow(RecordMixin, Base):
    __tablename__ = "inspection_lots"
    origin: Mapped[str] = mapped_column(String(20), index=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    lot_id: Mapped[str] = mapped_column(String(64), index=True)
    supplier_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    sample_size: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    result: Mapped[str] = mapped_column(String(10))
    stock_txn_ids: Mapped[JsonList] = mapped_column(JSON, default=list)
    stock_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stock_posted_quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    characteristics: Mapped[list[CharacteristicRow]] = child_rows("CharacteristicRow.position")
    results: Mapped[list[ResultRow]] = child_rows()
    decisions: Mapped[list[DecisionRow]] = child_rows("DecisionRow.revision")


class CharacteristicRow(Base):
    __tablename__ = "inspection_characteristics"
    __table_args__ = (
        UniqueConstraint("inspection_lot_id", "code", name="uq_inspection_characteristics_code"),
    )
    inspection_lot_id: Mapped[str] = mapped_column(ForeignKey("inspection_lots.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    min_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str | None] = mapped_column(String(10), nullable=True)


class ResultRow(Base):
    """The current result of one characteristic: a measurement (value, unit, uncertainty) or a flag."""

    __tablename__ = "inspection_results"
    inspection_lot_id: Mapped[str] = mapped_column(ForeignKey("inspection_lots.id"), primary_key=True)
    characteristic_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str | None] = mapped_column(String(10), nullable=True)
    uncertainty: Mapped[float | None] = mapped_column(Float, nullable=True)
    conforming: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    evaluation: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DecisionRow(Base):
    """Every usage decision ever made on a lot; the highest revision is the one in force."""

    __tablename__ = "usage_decisions"
    inspection_lot_id: Mapped[str] = mapped_column(ForeignKey("inspection_lots.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    disposition: Mapped[str] = mapped_column(String(20))
    lot_result: Mapped[str] = mapped_column(String(10))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class DefectCodeRow(RecordMixin, Base):
    __tablename__ = "defect_codes"
    description: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(200), nullable=True)
    default_severity: Mapped[str | None] = mapped_column(String(10), nullable=True)


class NonconformanceRow(RecordMixin, Base):
    __tablename__ = "nonconformances"
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    defect_codes: Mapped[JsonList] = mapped_column(JSON, default=list)
    root_cause_codes: Mapped[JsonList] = mapped_column(JSON, default=list)
    quantity_affected: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str | None] = mapped_column(String(10), nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(20), nullable=True)
    action_plan: Mapped[str | None] = mapped_column(Text, nullable=True)
    effectiveness_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    item_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    supplier_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    equipment_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    production_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    inspection_lot_id: Mapped[str | None] = mapped_column(
        ForeignKey("inspection_lots.id"), nullable=True, index=True
    )
    reported_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)


class SupplierCaseRow(RecordMixin, Base):
    __tablename__ = "supplier_cases"
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    nc_ids: Mapped[JsonList] = mapped_column(JSON, default=list)
    lot_ids: Mapped[JsonList] = mapped_column(JSON, default=list)
    po_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    opened_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    responses: Mapped[JsonList] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class CapaRow(RecordMixin, Base):
    __tablename__ = "capas"
    kind: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    nc_ids: Mapped[JsonList] = mapped_column(JSON, default=list)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    actions: Mapped[JsonList] = mapped_column(JSON, default=list)
    effectiveness_checks: Mapped[JsonList] = mapped_column(JSON, default=list)
    cause_codes: Mapped[JsonList] = mapped_column(JSON, default=list)
    correction_codes: Mapped[JsonList] = mapped_column(JSON, default=list)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
