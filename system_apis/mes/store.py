"""MES tables. Only this service reads or writes them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.records import RecordMixin, UTCDateTime, child_rows


class Base(DeclarativeBase):
    pass


class EquipmentRow(RecordMixin, Base):
    __tablename__ = "equipment"
    description: Mapped[str] = mapped_column(String(200))
    work_centre: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime)
    state_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state_alarm: Mapped[str | None] = mapped_column(String(200), nullable=True)


class EquipmentStateChangeRow(RecordMixin, Base):
    __tablename__ = "equipment_state_changes"
    equipment_id: Mapped[str] = mapped_column(ForeignKey("equipment.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("production_orders.id"), nullable=True)
    alarm: Mapped[str | None] = mapped_column(String(200), nullable=True)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DowntimeRow(RecordMixin, Base):
    """A stop of an equipment: open (ended_at null) until it runs or idles again."""

    __tablename__ = "equipment_downtime"
    equipment_id: Mapped[str] = mapped_column(ForeignKey("equipment.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    alarm: Mapped[str | None] = mapped_column(String(200), nullable=True)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ProductionOrderRow(RecordMixin, Base):
    __tablename__ = "production_orders"
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    planned_quantity: Mapped[float] = mapped_column(Float)
    good_quantity: Mapped[float] = mapped_column(Float, default=0.0)
    scrap_quantity: Mapped[float] = mapped_column(Float, default=0.0)
    uom: Mapped[str] = mapped_column(String(10))
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    hold_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    maintenance_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nonconformance_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    planned_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    planned_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    actual_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    actual_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    order_type: Mapped[str] = mapped_column(String(20), default="standard", server_default="standard")
    source_lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    quality_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operations: Mapped[list[OperationRow]] = child_rows("OperationRow.op_no")


class OperationRow(Base):
    __tablename__ = "operations"
    order_id: Mapped[str] = mapped_column(ForeignKey("production_orders.id"), primary_key=True)
    op_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    work_centre: Mapped[str] = mapped_column(String(64))
    equipment_id: Mapped[str | None] = mapped_column(ForeignKey("equipment.id"), nullable=True, index=True)
    good_quantity: Mapped[float] = mapped_column(Float, default=0.0)
    scrap_quantity: Mapped[float] = mapped_column(Float, default=0.0)


class ConfirmationRow(RecordMixin, Base):
    __tablename__ = "confirmations"
    order_id: Mapped[str] = mapped_column(ForeignKey("production_orders.id"), index=True)
    op_no: Mapped[int] = mapped_column(Integer)
    work_centre: Mapped[str] = mapped_column(String(64))
    equipment_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    good_quantity: Mapped[float] = mapped_column(Float)
    scrap_quantity: Mapped[float] = mapped_column(Float)
    scrap_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    person_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BatchRow(RecordMixin, Base):
    __tablename__ = "batches"
    order_id: Mapped[str] = mapped_column(ForeignKey("production_orders.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    lot_id: Mapped[str] = mapped_column(String(64), index=True)
    quantity: Mapped[float] = mapped_column(Float)
    uom: Mapped[str] = mapped_column(String(10))
    location: Mapped[str | None] = mapped_column(String(40), nullable=True)
    site: Mapped[str] = mapped_column(String(64))
    quality_status: Mapped[str] = mapped_column(
        String(20), default="pending", server_default="pending", index=True
    )
    quality_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    quality_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ConsumptionRow(RecordMixin, Base):
    """An input lot or item consumed by an order: the genealogy recall queries walk."""

    __tablename__ = "consumptions"
    order_id: Mapped[str] = mapped_column(ForeignKey("production_orders.id"), index=True)
    op_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    quantity: Mapped[float] = mapped_column(Float)
    uom: Mapped[str] = mapped_column(String(10))
    output_item_id: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
