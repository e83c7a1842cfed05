"""The embedded ERP's supplier invoices: against a purchase order, line by line against its goods
receipts (never more than was received and kept), paid in full unless a payment hold blocks them;
credit notes for returned goods that were billed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit.inputs import kept_quantity
from contracts.kit.paging import Page, PageQuery, keyset, page
from contracts.kit.problems import IllegalTransition, Unprocessable
from contracts.kit.records import new_id
from contracts.kit.repository import announce, get_or_404, get_or_422, insert, to_wire
from contracts.models import erp as m
from system_apis.erp import domain, holds
from system_apis.erp import store as s
from system_apis.erp.events import SOURCE


async def view(session: AsyncSession, row: s.SupplierInvoiceRow) -> m.SupplierInvoice:
    lots = [line.lot_id for line in row.lines]
    blocked = row.status == m.InvoiceStatus.OPEN and row.kind == m.InvoiceKind.INVOICE
    return to_wire(
        row,
        m.SupplierInvoice,
        invoice_id=row.id,
        lines=[
            to_wire(line, m.SupplierInvoiceLine, amount=line.amount.quantize(domain.CENT))
            for line in row.lines
        ],
        total=row.total.quantize(domain.CENT),
        payment_block=holds.payment_block(lots, await holds.held_lots(session, lots) if blocked else set()),
    )


async def net_invoiced(session: AsyncSession, receipt_id: str) -> float:
    """What of a receipt is billed, credit notes deducted."""
    total = await session.scalar(
        select(func.sum(s.SupplierInvoiceLineRow.quantity)).where(
            s.SupplierInvoiceLineRow.receipt_id == receipt_id
        )
    )
    return round(float(total or 0.0), domain.PRECISION)


async def returned(session: AsyncSession, lot_id: str) -> float:
    total = await session.scalar(
        select(func.sum(s.InventoryTxnRow.quantity)).where(
            s.InventoryTxnRow.lot_id == lot_id,
            s.InventoryTxnRow.type == m.MovementType.RETURN_TO_VENDOR,
            s.InventoryTxnRow.reversed_by.is_(None),
        )
    )
    return round(float(total or 0.0), domain.PRECISION)


async def create(session: AsyncSession, data: m.SupplierInvoiceCreate) -> m.SupplierInvoice:
    po = await get_or_422(session, s.PurchaseOrderRow, data.po_id, "purchase order", lock=True)
    row = s.SupplierInvoiceRow(
        id=new_id("INV"),
        kind=m.InvoiceKind.INVOICE,
        supplier_id=po.supplier_id,
        po_id=po.id,
        supplier_ref=data.supplier_ref,
        invoice_date=data.invoice_date or datetime.now(UTC).date(),
        currency=po.lines[0].currency,
        total=Decimal(0),
        status=m.InvoiceStatus.OPEN,
        lines=[],
    )
    for number, line in enumerate(data.lines, start=1):
        receipt = await get_or_422(session, s.GoodsReceiptRow, line.receipt_id, "goods receipt")
        if receipt.po_id != po.id:
            raise Unprocessable(
                f"goods receipt {receipt.id} is not a receipt of {po.id}", slug="receipt-not-on-order"
            )
        billed = await net_invoiced(session, receipt.id) + sum(
            li.quantity for li in row.lines if li.receipt_id == receipt.id
        )
        open_quantity = domain.invoiceable(receipt.quantity, await returned(session, receipt.lot_id), billed)
        quantity = kept_quantity(line.quantity) if line.quantity is not None else open_quantity
        if quantity <= 0 or quantity > open_quantity + 1e-9:
            raise domain.OverInvoiced(
                f"receipt {receipt.id} has {open_quantity:g} left to invoice (received less returned "
                f"less invoiced); {quantity:g} would over-invoice",
                open_quantity=open_quantity,
            )
        order_line = next(li for li in po.lines if li.line_no == receipt.line_no)
        price = _money(line.unit_price) if line.unit_price else (order_line.unit_price or Decimal(0))
        row.lines.append(_line(number, receipt, quantity, price))
    row.total = domain.invoice_total([li.amount for li in row.lines])
    return await _post(session, row)


async def credit_return(
    session: AsyncSession, receipt: m.GoodsReceipt, quantity: float, reason: str
) -> m.SupplierInvoice | None:
    row = await get_or_422(session, s.GoodsReceiptRow, receipt.receipt_id, "goods receipt")
    billed = await net_invoiced(session, row.id)
    credit = domain.to_credit(row.quantity, await returned(session, row.lot_id), billed, quantity)
    if credit <= 0:
        return None  # not billed beyond what was kept: the invoice to come bills less
    invoiced = await session.scalars(
        select(s.SupplierInvoiceLineRow)
        .join(s.SupplierInvoiceRow)
        .where(
            s.SupplierInvoiceLineRow.receipt_id == row.id,
            s.SupplierInvoiceRow.kind == m.InvoiceKind.INVOICE,
        )
        .order_by(s.SupplierInvoiceRow.created_at.desc())
    )
    price = next(iter(invoiced)).unit_price
    original = await session.scalar(
        select(s.SupplierInvoiceRow).where(s.SupplierInvoiceRow.po_id == row.po_id).limit(1)
    )
    assert original is not None
    assert row.po_id is not None
    note = s.SupplierInvoiceRow(
        id=new_id("CN"),
        kind=m.InvoiceKind.CREDIT_NOTE,
        supplier_id=original.supplier_id,
        po_id=row.po_id,
        supplier_ref=(reason or f"return of lot {row.lot_id}")[:200],
        invoice_date=datetime.now(UTC).date(),
        currency=original.currency,
        total=Decimal(0),
        status=m.InvoiceStatus.OPEN,
        lines=[_line(1, row, -credit, price)],
    )
    note.total = note.lines[0].amount
    return await _post(session, note)


def _line(
    number: int, receipt: s.GoodsReceiptRow, quantity: float, price: Decimal
) -> s.SupplierInvoiceLineRow:
    return s.SupplierInvoiceLineRow(
        line_no=number,
        receipt_id=receipt.id,
        lot_id=receipt.lot_id,
        item_id=receipt.item_id,
        quantity=quantity,
        unit_price=price,
        amount=domain.line_amount(quantity, price),
    )


async def _post(session: AsyncSession, row: s.SupplierInvoiceRow) -> m.SupplierInvoice:
    await insert(session, row)
    invoice = await view(session, row)
    await announce(
        session,
        SOURCE,
        row,
        ev.SupplierInvoicePosted,
        invoice_id=row.id,
        total=row.total.quantize(domain.CENT),
        lot_ids=sorted({li.lot_id for li in row.lines}),
        payment_blocked=invoice.payment_block.blocked,
    )
    return invoice


async def get(session: AsyncSession, invoice_id: str) -> m.SupplierInvoice:
    return await view(
        session, await get_or_404(session, s.SupplierInvoiceRow, invoice_id, "supplier invoice")
    )


async def list_invoices(
    session: AsyncSession, q: PageQuery, po_id: str | None, lot_id: str | None, status: m.InvoiceStatus | None
) -> Page[m.SupplierInvoice]:
    where: list[ColumnElement[bool]] = []
    if po_id:
        where.append(s.SupplierInvoiceRow.po_id == po_id)
    if status:
        where.append(s.SupplierInvoiceRow.status == status)
    if lot_id:
        lines = select(s.SupplierInvoiceLineRow.invoice_id).where(s.SupplierInvoiceLineRow.lot_id == lot_id)
        where.append(s.SupplierInvoiceRow.id.in_(lines))
    query = keyset(
        select(s.SupplierInvoiceRow).where(*where),
        s.SupplierInvoiceRow.updated_at,
        s.SupplierInvoiceRow.id,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
    )
    rows = list((await session.scalars(query)).all())
    views = {row.id: await view(session, row) for row in rows}
    return page(rows, q.limit, lambda r: views[r.id])


async def pay(session: AsyncSession, invoice_id: str, data: m.InvoicePayment) -> m.SupplierInvoice:
    row = await get_or_404(session, s.SupplierInvoiceRow, invoice_id, "supplier invoice", lock=True)
    if row.kind != m.InvoiceKind.INVOICE:
        raise Unprocessable(f"{row.id} is a credit note: it is offset, not paid", slug="credit-note-not-paid")
    if row.status != m.InvoiceStatus.OPEN:
        raise IllegalTransition("supplier invoice", row.status, "pay")
    holds.refuse_blocked(await view(session, row))
    row.status = m.InvoiceStatus.PAID
    row.paid_at = (
        datetime.combine(data.paid_on, datetime.min.time(), UTC) if data.paid_on else datetime.now(UTC)
    )
    row.payment_reference = data.reference
    await session.flush()
    await announce(
        session, SOURCE, row, ev.SupplierInvoicePaid, invoice_id=row.id, total=row.total.quantize(domain.CENT)
    )
    return await view(session, row)


async def invoices_of_lot(session: AsyncSession, lot_id: str) -> list[str]:
    """The open invoices a hold on this lot blocks (their block is read from the holds)."""
    found = await (await session.connection()).scalars(_INVOICES_OF_LOT, {"lot_id": lot_id})
    return list(found)


# Built once: every payment hold and release runs it.
_INVOICES_OF_LOT = (
    select(s.SupplierInvoiceRow.id)
    .where(
        s.SupplierInvoiceRow.status == m.InvoiceStatus.OPEN,
        s.SupplierInvoiceRow.kind == m.InvoiceKind.INVOICE,
        s.SupplierInvoiceRow.id.in_(
            select(s.SupplierInvoiceLineRow.invoice_id).where(
                s.SupplierInvoiceLineRow.lot_id == bindparam("lot_id")
            )
        ),
    )
    .order_by(s.SupplierInvoiceRow.id)
)


def _money(amount: str) -> Decimal:
    return Decimal(amount).quantize(Decimal("0.0001"))
