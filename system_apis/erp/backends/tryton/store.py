"""What the Tryton connector keeps in the ERP service's own database.

- `erp_tryton_bindings`: our id of a receipt or an inventory transaction ↔ the Tryton record that
  is it, with our view of it (what Tryton has no field for: the reason, the order reference, the
  supplier's lot). Written in the same transaction as the events that announce the record, so a
  record is announced once: the unique (model, tryton_id) refuses a second binding.
- `erp_tryton_watermark`: how far the change poller has read (write_date, id), moved in the
  same transaction as the events of what it read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.paging import utcnow


class ConnectorBase(DeclarativeBase):
    metadata = MetaData()


class BindingRow(ConnectorBase):
    __tablename__ = "erp_tryton_bindings"
    __table_args__ = (
        UniqueConstraint("model", "tryton_id", "kind", name="uq_erp_tryton_bindings_record"),
        UniqueConstraint("kind", "operation", name="uq_erp_tryton_bindings_operation"),
        Index("ix_erp_tryton_bindings_list", "kind", "updated_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "receipt", "txn", "delivery" or "cost"
    model: Mapped[str] = mapped_column(String(64))
    tryton_id: Mapped[int] = mapped_column(Integer)
    # Filters of the list endpoints, and the operation that created it (None: seen by the poller).
    lot_id: Mapped[str] = mapped_column(String(64), index=True)
    po_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    type: Mapped[str] = mapped_column(String(20))
    order_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    cost_centre: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    operation: Mapped[str | None] = mapped_column(String(32), nullable=True)
    view: Mapped[bytes] = mapped_column(LargeBinary)  # our wire shape of the record (msgspec JSON)
    # A receipt's facts about its lot that Tryton has no field for: supplier, supplier's lot, origin.
    lot_view: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class WatermarkRow(ConnectorBase):
    __tablename__ = "erp_tryton_watermark"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    write_date: Mapped[datetime] = mapped_column(DateTime(timezone=False))  # Tryton's naive UTC
    tryton_id: Mapped[int] = mapped_column(Integer)


metadata = ConnectorBase.metadata
