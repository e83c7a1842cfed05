"""Supplier invoices (posted account.invoice of type in, number = invoice id), their payment
block (account_payment's `payment_blocked` on the lines to pay), payment (Tryton's invoice pay
wizard), credit notes (invoices of negative quantities) and cost postings (posted account.move).

Exactly once as elsewhere: an invoice carries our operation key in its `comment`, a payment's and
a cost's move in its `description`; each command looks for its key before it creates. Tryton's
pay wizard does not look at `payment_blocked` (only its "pay lines" wizard warns), so a payment
through this API checks the block itself, and our payment holds too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit.paging import Page, PageQuery, utcnow
from contracts.kit.problems import IllegalTransition, NotFound, Unprocessable
from contracts.kit.records import new_id
from contracts.kit.repository import announce
from contracts.models import erp as m
from system_apis.erp import domain, holds
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.client import TrytonError, Wizard
from system_apis.erp.backends.tryton.connection import (
    ErpRefused,
    ErpUnavailable,
    Record,
    bindings_page,
    problem_of,
    serialise,
)
from system_apis.erp.backends.tryton.purchasing import Purchasing
from system_apis.erp.backends.tryton.stock import Stock
from system_apis.erp.backends.tryton.store import BindingRow
from system_apis.erp.events import SOURCE
from system_apis.erp.port import Operation

INVOICE_FIELDS = ["number", "state", "party.code", "reference", "invoice_date", "currency.code"]
INVOICE_FIELDS += ["total_amount", "lines", "lines_to_pay", "create_date", "write_date", "comment"]
LINE_FIELDS = ["invoice", "quantity", "unit_price", "amount", "product.code", "stock_moves", "origin"]
BILLED = ["posted", "paid"]  # the invoice states that bill (or credit) their receipts
PENDING = ["draft", "validated"]  # not yet: an invoice of ours in them is a failed post's leftover


class Accounting(Purchasing, Stock):
    # --- supplier invoices ---------------------------------------------------------------------
    async def create_supplier_invoice(
        self, session: AsyncSession, data: m.SupplierInvoiceCreate, op: Operation
    ) -> m.SupplierInvoice:
        key = mapping.tryton_key(op)
        await serialise(session, f"po:{data.po_id}")
        found = await self._resumed(session, key)
        if found:
            invoice, state = found
        else:
            invoice, state = await self._create_invoice(session, data, key), "draft"
        return await self._post_invoice(session, invoice, state)

    async def _resumed(self, session: AsyncSession, key: str) -> tuple[int, str] | None:
        """The invoice an earlier attempt with this key left in Tryton, to answer (posted) or to
        post (a draft a failed post left). A draft is posted only while it still fits what is left
        to bill, since others may have billed or credited its receipts meanwhile: one that no
        longer fits is deleted and the request starts over, checked as a new one."""
        found = await self.find("account.invoice", [("comment", "=", key)], ["state"], limit=1)
        if not found:
            return None
        invoice, state = int(found[0]["id"]), str(found[0]["state"])
        if state in PENDING and not await self._still_fits(session, invoice):
            await self._discard(invoice, state)
            return None
        return invoice, state

    async def _still_fits(self, session: AsyncSession, invoice: int) -> bool:
        """Whether posting this draft keeps each of its receipts billed within what was kept (an
        invoice) or not below it (a credit note), with what the other invoices bill."""
        lines = await self.find(
            "account.invoice.line", [("invoice", "=", invoice)], ["quantity", "stock_moves"]
        )
        drafted: dict[int, float] = defaultdict(float)
        for line in lines:
            for move in line["stock_moves"]:
                drafted[move] += float(line["quantity"])
        receipts = await session.scalars(
            select(BindingRow).where(
                BindingRow.kind == "receipt",
                BindingRow.model == "stock.move",
                BindingRow.tryton_id.in_(list(drafted)),
            )
        )
        for row in receipts.all():  # read out before the loop's own queries
            receipt = msgspec.json.decode(row.view, type=m.GoodsReceipt)
            quantity = drafted[row.tryton_id]
            kept = receipt.quantity - await holds.returned_quantity(self, session, receipt.lot_id)
            billed = await self._net_invoiced(
                row.tryton_id, pending=1 if quantity > 0 else -1, besides=invoice
            )
            after = round(billed + quantity, domain.PRECISION)
            if (quantity > 0 and after > kept + 1e-9) or (quantity < 0 and after < kept - 1e-9):
                return False
        return True

    async def _discard(self, invoice: int, state: str) -> None:
        """Remove a draft of ours that will not be posted, so that it bills nothing, neither in
        our checks nor when someone in Tryton would post it. A validated one has a number, which
        Tryton keeps: it is cancelled."""
        await self.call("account.invoice", "delete" if state == "draft" else "cancel", [invoice])

    async def _create_invoice(self, session: AsyncSession, data: m.SupplierInvoiceCreate, key: str) -> int:
        ledger = await self.ledger()
        invoice_date = data.invoice_date or dt.date.today()
        await self._open_period(invoice_date)
        purchases = await self.find(
            "purchase.purchase",
            [("number", "=", data.po_id)],
            ["party", "invoice_address", "currency", "lines"],
            limit=1,
        )
        if not purchases:
            raise Unprocessable(f"purchase order {data.po_id} does not exist", slug="unknown-purchase-order")
        purchase = purchases[0]
        order = await self.get_purchase_order(session, data.po_id)
        lines: list[Record] = []
        amounts: list[Decimal] = []
        for line in data.lines:
            receipt = await self._receipt(session, line.receipt_id)
            if receipt.po_id != data.po_id or receipt.line_no is None:
                raise Unprocessable(
                    f"goods receipt {receipt.receipt_id} is not a receipt of {data.po_id}",
                    slug="receipt-not-on-order",
                )
            move = await self._receipt_move(session, receipt.receipt_id)
            billed = await self._net_invoiced(move, pending=1) + sum(
                float(li["quantity"]) for li in lines if li["stock_moves"][0][1] == [move]
            )
            left = domain.invoiceable(
                receipt.quantity, await holds.returned_quantity(self, session, receipt.lot_id), billed
            )
            quantity = left if line.quantity is None else await self.in_unit(receipt.item_id, line.quantity)
            if quantity <= 0 or quantity > left + 1e-9:
                raise domain.OverInvoiced(
                    f"receipt {receipt.receipt_id} has {left:g} left to invoice (received less returned "
                    f"less invoiced); {quantity:g} would over-invoice",
                    open_quantity=left,
                )
            ordered = order.lines[receipt.line_no - 1]
            price = Decimal(line.unit_price) if line.unit_price else (ordered.unit_price or Decimal(0))
            amounts.append(domain.line_amount(quantity, price))
            product, unit = await self.product(receipt.item_id)
            lines.append(
                {
                    "type": "line",
                    "product": product,
                    "unit": unit,
                    "quantity": quantity,
                    "unit_price": price,
                    "account": ledger.accounts[mapping.PURCHASE_EXPENSE],
                    "origin": f"purchase.line,{purchase['lines'][receipt.line_no - 1]}",
                    "stock_moves": [("add", [move])],
                    "description": f"{receipt.item_id}, lot {receipt.lot_id}, receipt {receipt.receipt_id}",
                }
            )
        domain.invoice_total(amounts)  # Tryton would take it: the API refuses it on every backend
        [invoice] = await self.call(
            "account.invoice",
            "create",
            [
                {
                    "type": "in",
                    "party": purchase["party"],
                    "invoice_address": purchase["invoice_address"],
                    "currency": purchase["currency"],
                    "company": self.client.context.get("company"),
                    "journal": ledger.journals[mapping.INVOICE_JOURNAL],
                    "account": ledger.accounts[mapping.PAYABLE],
                    "invoice_date": invoice_date,
                    "reference": data.supplier_ref,
                    "comment": key,
                    "lines": [("create", lines)],
                }
            ],
        )
        return int(invoice)

    async def _post_invoice(self, session: AsyncSession, invoice: int, state: str) -> m.SupplierInvoice:
        if state in PENDING:
            try:
                await self.call("account.invoice", "post", [invoice])
            except ErpRefused:
                # Tryton will not post it as it stands: a draft left would bill the receipt in our
                # checks and could be posted in Tryton by hand.
                await self._discard(invoice, state)
                raise
        [view] = await self._invoices(session, [("id", "=", invoice)])
        await self._sync_block(session, invoice)
        [view] = await self._invoices(session, [("id", "=", invoice)])
        await announce(
            session,
            SOURCE,
            view,
            ev.SupplierInvoicePosted,
            lot_ids=sorted({line.lot_id for line in view.lines}),
            payment_blocked=view.payment_block.blocked,
            subject=view.invoice_id,
        )
        return view

    async def _receipt(self, session: AsyncSession, receipt_id: str) -> m.GoodsReceipt:
        try:
            return await self.get_goods_receipt(session, receipt_id)
        except NotFound as exc:
            raise Unprocessable(
                f"goods receipt {receipt_id} does not exist", slug="unknown-goods-receipt"
            ) from exc

    async def _receipt_move(self, session: AsyncSession, receipt_id: str) -> int:
        row = await session.get(BindingRow, receipt_id)
        assert row is not None
        return row.tryton_id

    async def _net_invoiced(self, move: int, *, pending: int = 0, besides: int | None = None) -> float:
        """What of a receipt (its stock move) is billed, credit notes deducted: by posted and paid
        invoices and, with `pending` 1 (-1), by the drafts of invoices (credit notes) as well. Such
        a draft is a request whose post failed with a 503: it bills (credits) the receipt once
        that request is retried, so a check counts the drafts that make it stricter. `besides`:
        an invoice left out (the draft being resumed)."""
        where: list[Any] = [("stock_moves", "in", [move]), ("invoice.state", "in", [*BILLED, *PENDING])]
        if besides is not None:
            where.append(("invoice", "!=", besides))
        lines = await self.find("account.invoice.line", where, ["quantity", "invoice.state"])
        counted = [
            float(line["quantity"])
            for line in lines
            if line["invoice."]["state"] in BILLED or float(line["quantity"]) * pending > 0
        ]
        return round(sum(counted), domain.PRECISION)

    async def get_supplier_invoice(self, session: AsyncSession, invoice_id: str) -> m.SupplierInvoice:
        found = await self._invoices(session, [("number", "=", invoice_id)])
        if not found:
            raise NotFound(f"supplier invoice {invoice_id} does not exist", slug="supplier-invoice-not-found")
        return found[0]

    async def list_supplier_invoices(
        self,
        session: AsyncSession,
        q: PageQuery,
        po_id: str | None,
        lot_id: str | None,
        status: m.InvoiceStatus | None,
    ) -> Page[m.SupplierInvoice]:
        where: list[Any] = [("type", "=", "in"), ("state", "in", ["posted", "paid"])]
        if status is not None:
            where.append(("state", "=", "paid" if status is m.InvoiceStatus.PAID else "posted"))
        if po_id:
            ordered = await self.find("purchase.line", [("purchase.number", "=", po_id)], ["id"])
            where.append(("lines.origin", "in", [f"purchase.line,{line['id']}" for line in ordered]))
        if lot_id:
            where.append(("lines.stock_moves.lot.number", "=", lot_id))

        async def views(rows: list[Record]) -> dict[str, m.SupplierInvoice]:
            read = await self._invoices(session, [("id", "in", [r["id"] for r in rows])])
            return {v.invoice_id: v for v in read}

        return await self.listed("account.invoice", where, ["number"], q, views, key="number")

    async def _invoices(self, session: AsyncSession, where: list[Any]) -> list[m.SupplierInvoice]:
        invoices = await self.find("account.invoice", [("type", "=", "in"), *where], INVOICE_FIELDS)
        if not invoices:
            return []
        lines = await self.find(
            "account.invoice.line",
            [("invoice", "in", [i["id"] for i in invoices])],
            LINE_FIELDS,
            order=[("invoice", "ASC"), ("sequence", "ASC"), ("id", "ASC")],
        )
        moves = {mv for line in lines for mv in line["stock_moves"]}
        receipts = {
            row.tryton_id: msgspec.json.decode(row.view, type=m.GoodsReceipt)
            for row in await session.scalars(
                select(BindingRow).where(
                    BindingRow.kind == "receipt",
                    BindingRow.model == "stock.move",
                    BindingRow.tryton_id.in_(moves),
                )
            )
        }
        to_pay = await self.find(
            "account.move.line",
            [("id", "in", [line for i in invoices for line in i["lines_to_pay"]])],
            ["payment_blocked", "reconciliation", "move"],
        )
        flagged = {line["id"] for line in to_pay if line["payment_blocked"] and not line["reconciliation"]}
        payments = await self.find(
            "account.move",
            [
                ("origin", "in", [f"account.invoice,{i['id']}" for i in invoices]),
                ("journal.code", "=", mapping.CASH_JOURNAL),
            ],
            ["origin", "description", "date", "create_date"],
        )
        paid = {p["origin"]: p for p in payments}
        lots = {r.lot_id for r in receipts.values()}
        held = await holds.held_lots(session, lots)
        views = []
        for invoice in invoices:
            own = [line for line in lines if line["invoice"] == invoice["id"]]
            view_lines = []
            for number, line in enumerate(own, start=1):
                receipt = next((receipts[mv] for mv in line["stock_moves"] if mv in receipts), None)
                if receipt is None:
                    continue  # a line of no receipt of ours (e.g. freight typed in Tryton)
                view_lines.append(
                    m.SupplierInvoiceLine(
                        line_no=number,
                        receipt_id=receipt.receipt_id,
                        lot_id=receipt.lot_id,
                        item_id=line["product."]["code"],
                        quantity=float(line["quantity"]),
                        unit_price=Decimal(line["unit_price"]).quantize(Decimal("0.0001")),
                        amount=Decimal(line["amount"]).quantize(domain.CENT),
                    )
                )
            state_paid = invoice["state"] == "paid"
            blocked_by = set() if state_paid else {line.lot_id for line in view_lines} & held
            tryton_block = not state_paid and any(line in flagged for line in invoice["lines_to_pay"])
            block = holds.payment_block([line.lot_id for line in view_lines], blocked_by)
            if tryton_block and not block.blocked:
                block = m.PaymentBlock(blocked=True, lots=[])  # blocked in Tryton by hand
            payment = paid.get(f"account.invoice,{invoice['id']}")
            stamp = invoice.get("write_date") or invoice.get("create_date")
            views.append(
                m.SupplierInvoice(
                    invoice_id=invoice["number"],
                    kind=m.InvoiceKind.CREDIT_NOTE if invoice["total_amount"] < 0 else m.InvoiceKind.INVOICE,
                    supplier_id=invoice["party."]["code"],
                    po_id=receipts_po(view_lines, receipts) or "",
                    supplier_ref=invoice.get("reference") or "",
                    invoice_date=invoice["invoice_date"],
                    currency=invoice["currency."]["code"],
                    lines=view_lines,
                    total=Decimal(invoice["total_amount"]).quantize(domain.CENT),
                    status=m.InvoiceStatus.PAID if state_paid else m.InvoiceStatus.OPEN,
                    payment_block=block,
                    paid_at=mapping.utc(payment["create_date"]) if payment else None,
                    payment_reference=_payment_reference(payment),
                    version=mapping.version(stamp),
                    created_at=mapping.utc(invoice.get("create_date")),
                    updated_at=mapping.utc(stamp),
                )
            )
        return views

    async def pay_supplier_invoice(
        self, session: AsyncSession, invoice_id: str, data: m.InvoicePayment, op: Operation
    ) -> m.SupplierInvoice:
        key = mapping.tryton_key(op)
        found = await self.find(
            "account.invoice", [("number", "=", invoice_id), ("type", "=", "in")], ["state"], limit=1
        )
        if not found:
            raise NotFound(f"supplier invoice {invoice_id} does not exist", slug="supplier-invoice-not-found")
        invoice = int(found[0]["id"])
        await serialise(session, f"invoice:{invoice_id}")
        done = await self.find(
            "account.move",
            [("origin", "=", f"account.invoice,{invoice}"), ("description", "like", f"{key}%")],
            ["id"],
            limit=1,
        )
        view = await self.get_supplier_invoice(session, invoice_id)
        if not done:
            if view.kind is m.InvoiceKind.CREDIT_NOTE:
                raise Unprocessable(
                    f"{invoice_id} is a credit note: it is offset, not paid", slug="credit-note-not-paid"
                )
            if view.status is m.InvoiceStatus.PAID:
                raise IllegalTransition("supplier invoice", view.status, "pay")
            holds.refuse_blocked(view)
            paid_on = data.paid_on or dt.date.today()
            await self._open_period(paid_on)
            description = f"{key} {data.reference}" if data.reference else key
            pay = Wizard(
                self.client,
                "account.invoice.pay",
                active_model="account.invoice",
                active_id=invoice,
                active_ids=[invoice],
            )
            try:
                await pay.open()
                await pay.press(
                    "choice",
                    {
                        "payment_method": (await self.ledger()).payment_method,
                        "description": description,
                        "date": paid_on,
                    },
                )
                await pay.close()
                if view.total == 0:
                    await self._settle_nothing(invoice)
            except TrytonError as exc:
                raise problem_of(exc) from exc
            view = await self.get_supplier_invoice(session, invoice_id)
        if view.status is not m.InvoiceStatus.PAID:
            # Announced only once Tryton says paid (its invoice process may run after the payment).
            raise ErpUnavailable(
                f"Tryton has not marked supplier invoice {invoice_id} paid yet; retry later",
                headers={"Retry-After": "5"},
            )
        await announce(session, SOURCE, view, ev.SupplierInvoicePaid, subject=view.invoice_id)
        return view

    async def _settle_nothing(self, invoice: int) -> None:
        """Tryton's pay wizard pays an amount: a zero total leaves it nothing to reconcile, so its
        invoice would stay posted for ever. Its payable lines (of zero) are reconciled with
        Tryton's own "reconcile lines" wizard instead, which marks the invoice paid."""
        [record] = await self.find("account.invoice", [("id", "=", invoice)], ["lines_to_pay"])
        open_lines = await self.find(
            "account.move.line", [("id", "in", record["lines_to_pay"]), ("reconciliation", "=", None)], ["id"]
        )
        lines = [line["id"] for line in open_lines]
        if not lines:
            return
        reconcile = Wizard(
            self.client,
            "account.move.reconcile_lines",
            active_model="account.move.line",
            active_id=lines[0],
            active_ids=lines,
        )
        await reconcile.open()
        await reconcile.close()

    async def sync_payment_block(self, session: AsyncSession, lot_id: str, op: Operation) -> list[str]:
        invoices = await self.find(
            "account.invoice",
            [("type", "=", "in"), ("state", "=", "posted"), ("lines.stock_moves.lot.number", "=", lot_id)],
            ["number", "total_amount"],
        )
        for invoice in invoices:
            await self._sync_block(session, int(invoice["id"]))
        return sorted(i["number"] for i in invoices if i["total_amount"] > 0)

    async def _sync_block(self, session: AsyncSession, invoice: int) -> None:
        """Tryton's payment block on the invoice's open lines to pay = a lot of it on a payment hold."""
        [record] = await self.find(
            "account.invoice", [("id", "=", invoice)], ["lines", "lines_to_pay", "state"]
        )
        if record["state"] != "posted":
            return
        lines = await self.find(
            "account.invoice.line", [("invoice", "=", invoice)], ["stock_moves.lot.number"]
        )
        lots = {
            mv["lot."]["number"] for line in lines for mv in line.get("stock_moves.") or [] if mv.get("lot.")
        }
        wanted = bool(await holds.held_lots(session, lots))
        to_pay = await self.find(
            "account.move.line", [("id", "in", record["lines_to_pay"])], ["payment_blocked", "reconciliation"]
        )
        change = [
            line["id"]
            for line in to_pay
            if not line["reconciliation"] and bool(line["payment_blocked"]) != wanted
        ]
        if change:
            await self.call("account.move.line", "payment_block" if wanted else "payment_unblock", change)

    async def credit_return(
        self, session: AsyncSession, receipt: m.GoodsReceipt, quantity: float, reason: str, op: Operation
    ) -> m.SupplierInvoice | None:
        key = mapping.tryton_key(op)
        found = await self._resumed(session, key)
        if found:
            return await self._post_invoice(session, *found)
        move = await self._receipt_move(session, receipt.receipt_id)
        billed = await self._net_invoiced(move, pending=-1)
        credit = domain.to_credit(
            receipt.quantity, await holds.returned_quantity(self, session, receipt.lot_id), billed, quantity
        )
        if credit <= 0:
            return None
        [billing] = await self.find(
            "account.invoice.line",
            [
                ("stock_moves", "in", [move]),
                ("invoice.state", "in", ["posted", "paid"]),
                ("quantity", ">", 0),
            ],
            ["invoice", "product", "unit", "unit_price", "account", "origin"],
            limit=1,
            order=[("id", "DESC")],
        )
        [original] = await self.find(
            "account.invoice",
            [("id", "=", billing["invoice"])],
            ["party", "invoice_address", "currency", "journal", "account"],
        )
        [note] = await self.call(
            "account.invoice",
            "create",
            [
                {
                    "type": "in",
                    "party": original["party"],
                    "invoice_address": original["invoice_address"],
                    "currency": original["currency"],
                    "company": self.client.context.get("company"),
                    "journal": original["journal"],
                    "account": original["account"],
                    "invoice_date": dt.date.today(),
                    "reference": (reason or f"return of lot {receipt.lot_id}")[:200],
                    "comment": key,
                    "lines": [
                        (
                            "create",
                            [
                                {
                                    "type": "line",
                                    "product": billing["product"],
                                    "unit": billing["unit"],
                                    "quantity": -credit,
                                    "unit_price": billing["unit_price"],
                                    "account": billing["account"],
                                    "origin": billing["origin"],
                                    "stock_moves": [("add", [move])],
                                    "description": f"return of {credit:g} of lot {receipt.lot_id}",
                                }
                            ],
                        )
                    ],
                }
            ],
        )
        return await self._post_invoice(session, int(note), "draft")

    # --- cost postings ---------------------------------------------------------------------------
    async def post_cost(
        self, session: AsyncSession, data: m.CostPostingCreate, op: Operation
    ) -> m.CostPosting:
        bound = await self.bound(session, "cost", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.CostPosting)
        await self.places()
        if data.currency != self.currency:
            raise Unprocessable(
                f"Tryton's company keeps its books in {self.currency}; post costs in {self.currency}",
                slug="currency-not-supported",
            )
        ledger = await self.ledger()
        key = mapping.tryton_key(op)
        found = await self.find("account.move", [("description", "=", key)], ["state"], limit=1)
        if found:
            move, state = int(found[0]["id"]), found[0]["state"]
        else:
            today = dt.date.today()
            period = await self._open_period(today)
            amount = Decimal(data.amount).quantize(domain.CENT)
            text = " · ".join(
                p for p in (data.kind, data.order_ref, data.cost_centre, data.description) if p
            )[:250]
            debit, credit = (amount, Decimal(0)) if amount >= 0 else (Decimal(0), -amount)
            [move] = await self.call(
                "account.move",
                "create",
                [
                    {
                        "journal": ledger.journals[mapping.COST_JOURNAL],
                        "period": period,
                        "date": today,
                        "company": self.client.context.get("company"),
                        "description": key,
                        "lines": [
                            (
                                "create",
                                [
                                    {
                                        "account": ledger.accounts[mapping.COST_ACCOUNTS[data.kind]],
                                        "debit": debit,
                                        "credit": credit,
                                        "description": text,
                                    },
                                    {
                                        "account": ledger.accounts[mapping.ACCRUED_COSTS],
                                        "debit": credit,
                                        "credit": debit,
                                        "description": text,
                                    },
                                ],
                            )
                        ],
                    }
                ],
            )
            state = "draft"
        if state == "draft":
            await self.call("account.move", "post", [move])
        now = utcnow()
        posting = m.CostPosting(
            posting_id=new_id("COST"),
            amount=Decimal(data.amount).quantize(Decimal("0.0001")),
            currency=data.currency,
            cost_centre=data.cost_centre,
            kind=data.kind,
            order_ref=data.order_ref,
            description=data.description,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(
            BindingRow(
                id=posting.posting_id,
                kind="cost",
                model="account.move",
                tryton_id=move,
                lot_id="",
                type=data.kind,
                order_ref=data.order_ref,
                cost_centre=data.cost_centre,
                operation=op,
                view=msgspec.json.encode(posting),
            )
        )
        await session.flush()
        await announce(session, SOURCE, posting, ev.CostPosted, subject=posting.posting_id)
        return posting

    async def _open_period(self, day: dt.date) -> int:
        """Tryton's open accounting period of the day a document is dated: a day of none is a 422
        before anything is made (Tryton would refuse the post, leaving what was made behind)."""
        periods = await self.call(
            "account.period",
            "search",
            [
                ("start_date", "<=", day),
                ("end_date", ">=", day),
                ("type", "=", "standard"),
                ("state", "=", "open"),
            ],
            0,
            1,
            None,
        )
        if not periods:
            raise Unprocessable(
                f"Tryton has no open accounting period for {day}: open the fiscal year", slug="no-open-period"
            )
        return int(periods[0])

    async def get_cost(self, session: AsyncSession, posting_id: str) -> m.CostPosting:
        row = await session.get(BindingRow, posting_id)
        if row is None or row.kind != "cost":
            raise NotFound(f"cost posting {posting_id} does not exist", slug="cost-posting-not-found")
        return msgspec.json.decode(row.view, type=m.CostPosting)

    async def list_costs(
        self, session: AsyncSession, q: PageQuery, order_ref: str | None, cost_centre: str | None
    ) -> Page[m.CostPosting]:
        where = []
        if order_ref:
            where.append(BindingRow.order_ref == order_ref)
        if cost_centre:
            where.append(BindingRow.cost_centre == cost_centre)
        return await bindings_page(session, "cost", m.CostPosting, q, where)


def receipts_po(lines: list[m.SupplierInvoiceLine], receipts: dict[int, m.GoodsReceipt]) -> str | None:
    by_id = {r.receipt_id: r for r in receipts.values()}
    return next((by_id[line.receipt_id].po_id for line in lines if by_id[line.receipt_id].po_id), None)


def _payment_reference(payment: Record | None) -> str | None:
    if not payment:
        return None
    _key, _, reference = (payment.get("description") or "").partition(" ")
    return reference or None
