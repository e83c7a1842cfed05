"""The ERP API in front of a Tryton server: commands out, reads through, changes in (poller.py).

Exactly once toward a system without idempotency keys: a command's documents carry our
operation key (a shipment's `reference`, a purchase's `comment`), and a command first looks for
them. If it finds one (an earlier attempt timed out, or this service died before its own
commit), it drives that document on from the state it is in instead of starting another; a
production, which has no field for a key, is recognised as one our Tryton user started for the
same lot and quantity that no record of ours claims yet. Nothing is trusted to "not have
happened" because a call failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Text, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit import outbox
from contracts.kit.app import Runtime
from contracts.kit.paging import Page, PageQuery, check_if_match, utcnow
from contracts.kit.problems import Conflict, NotFound, Problem, Unprocessable
from contracts.kit.records import new_id
from contracts.models import erp as m
from system_apis.erp import domain
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.client import (
    TrytonClient,
    TrytonDenied,
    TrytonError,
    TrytonRefused,
)
from system_apis.erp.backends.tryton.mapping import BLK, QI, UNR, Places
from system_apis.erp.backends.tryton.settings import TrytonSettings
from system_apis.erp.backends.tryton.store import BindingRow
from system_apis.erp.port import ErpBackend, NotSupported, Operation

log = logging.getLogger("plantbridge.erp.tryton")
SOURCE = "/plantbridge/erp"
Record = dict[str, Any]

# The buttons that take each document we start from one state to the next, up to done.
BUTTONS: dict[str, dict[str, str]] = {
    "stock.shipment.in": {"draft": "receive", "received": "do"},
    "stock.shipment.internal": {"draft": "wait", "waiting": "assign_try", "assigned": "do"},
    "stock.shipment.in.return": {"draft": "wait", "waiting": "assign_try", "assigned": "do"},
    "production": {"draft": "wait", "waiting": "assign_try", "assigned": "run", "running": "do"},
}
AFTER = {"receive": "done", "do": "done", "wait": "waiting", "run": "running"}
MOVES_OF = {
    "stock.shipment.in": "incoming_moves",
    "stock.shipment.internal": "moves",
    "stock.shipment.in.return": "moves",
}
ITEM_FIELDS = ["code", "name", "default_uom.symbol", "categories", "lot_required", "cost_price"]
ITEM_FIELDS += ["create_date", "write_date", "template"]
PARTY_FIELDS = ["code", "name", "addresses", "contact_mechanisms", "create_date", "write_date"]
MOVE_FIELDS = ["from_location", "to_location", "internal_quantity", "state", "lot.number"]
MOVE_FIELDS += ["product.code", "write_date", "create_date"]


class ErpUnavailable(Problem):
    status, slug, title = 503, "erp-unavailable", "The ERP is unavailable"


class ErpRefused(Conflict):
    slug, title = "erp-refused", "The ERP refused the change"


class ErpAccessDenied(Problem):
    status, slug, title = 503, "erp-access-denied", "The connector may not do this in the ERP"


def _problem(exc: TrytonError) -> Problem:
    if isinstance(exc, TrytonRefused):
        return ErpRefused(f"Tryton refused: {exc}")
    if isinstance(exc, TrytonDenied):
        return ErpAccessDenied(f"Tryton denied the connector's user: {exc}; check its access rights")
    return ErpUnavailable(f"{exc}; retry later", headers={"Retry-After": "5"})


class TrytonErp(ErpBackend):
    name = "tryton"

    def __init__(self, settings: TrytonSettings) -> None:
        self.settings = settings
        self.client = TrytonClient(
            settings.url,
            settings.database,
            settings.user,
            settings.password,
            timeout=settings.timeout_seconds,
        )
        self._places: Places | None = None
        self._ready = asyncio.Lock()
        self.categories: dict[int, str] = {}
        self.currency = "EUR"
        self.uid = 0
        self._products: dict[str, tuple[int, int]] = {}  # item id → (product id, its unit)
        self.company_party = 0

    # --- plumbing ---------------------------------------------------------------------------
    async def call(self, model: str, method: str, *args: Any) -> Any:
        try:
            return await self.client.call(model, method, *args)
        except TrytonError as exc:
            raise _problem(exc) from exc

    async def find(
        self,
        model: str,
        domain_: list[Any],
        fields: list[str],
        *,
        limit: int | None = None,
        order: Any = None,
    ) -> list[Record]:
        found: list[Record] = await self.call(model, "search_read", domain_, 0, limit, order, fields)
        return found

    async def places(self) -> Places:
        """Tryton's ids for the mapped locations, categories and the company currency, read once."""
        if self._places is not None:
            return self._places
        async with self._ready:
            if self._places is None:
                self._places = await self._resolve()
        return self._places

    async def _resolve(self) -> Places:
        rows = await self.find("stock.location", [], ["code", "type", "parent"])
        by_code = {r["code"]: r for r in rows if r["code"]}
        places = Places(types={r["id"]: r["type"] for r in rows})
        for place, statuses in self.settings.locations.items():
            for status, code in statuses.by_status().items():
                if code not in by_code:
                    raise ErpUnavailable(f"Tryton has no location {code!r} (ERP_TRYTON_LOCATIONS {place})")
                places.ids[(place, status)] = by_code[code]["id"]
                places.keys[by_code[code]["id"]] = (place, status)
            places.warehouses[place] = await self._warehouse_of(by_code[statuses.unrestricted]["id"], rows)
        places.lost_found = next(r["id"] for r in rows if r["type"] == "lost_found")
        places.supplier = next(r["id"] for r in rows if r["type"] == "supplier")
        self.categories = {c["id"]: c["name"] for c in await self.find("product.category", [], ["name"])}
        [company] = await self.find("company.company", [], ["currency.code", "party"], limit=1)
        self.currency = company["currency."]["code"]
        self.company_party = int(company["party"])
        self.uid = int(
            (await self.call("res.user", "search", [("login", "=", self.settings.user)], 0, 1, None))[0]
        )
        return places

    async def _warehouse_of(self, location: int, rows: list[Record]) -> int:
        parents = {r["id"]: r["parent"] for r in rows}
        types = {r["id"]: r["type"] for r in rows}
        current: int | None = location
        while current is not None and types.get(current) != "warehouse":
            current = parents.get(current)
        if current is None:
            raise ErpUnavailable(f"Tryton location {location} is in no warehouse")
        return current

    @asynccontextmanager
    async def lifespan(self, runtime: Runtime) -> AsyncIterator[None]:
        from system_apis.erp.backends.tryton.poller import Poller

        poller = Poller(self, runtime.db)
        task = asyncio.create_task(poller.run(), name="tryton-poller")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            await self.client.close()

    async def product(self, item_id: str, *, missing: type[Problem] = Unprocessable) -> tuple[int, int]:
        """Tryton's product id and unit for an item (a product's code never changes under us)."""
        if item_id not in self._products:
            found = await self.find("product.product", [("code", "=", item_id)], ["default_uom"], limit=1)
            if not found:
                raise _missing(missing, "item", item_id)
            self._products[item_id] = (int(found[0]["id"]), int(found[0]["default_uom"]))
        return self._products[item_id]

    async def product_id(self, item_id: str) -> int:
        return (await self.product(item_id))[0]

    async def party_id(self, supplier_id: str, *, missing: type[Problem] = Unprocessable) -> int:
        found = await self.call("party.party", "search", [("code", "=", supplier_id)], 0, 1, None)
        if not found:
            raise _missing(missing, "supplier", supplier_id)
        return int(found[0])

    # --- items --------------------------------------------------------------------------------
    async def create_item(self, session: AsyncSession, data: m.ItemCreate, op: Operation) -> m.Item:
        if data.reorder_point is not None:
            raise NotSupported(
                "Tryton keeps no reorder point on a product", slug="reorder-point-not-supported"
            )
        await self.places()
        if await self.call("product.product", "search", [("code", "=", data.item_id)], 0, 1, None):
            raise Conflict(f"item {data.item_id} already exists", slug="item-exists")
        uom = await self._unit(data.base_uom)
        categories = [self._category(mapping.TYPE_CATEGORIES[data.item_type])]
        if data.inspection_required:
            categories.append(self._category(mapping.INSPECTION_CATEGORY))
        variant: Record = {}
        if data.standard_price is not None:
            variant["cost_price"] = Decimal(data.standard_price)
        await self.call(
            "product.template",
            "create",
            [
                {
                    "name": data.description,
                    "code": data.item_id,
                    "type": "goods",
                    "default_uom": uom,
                    "purchase_uom": uom,
                    "purchasable": True,
                    "producible": True,
                    "categories": [("add", categories)],
                    "lot_required": mapping.LOT_REQUIRED if data.lot_tracked else [],
                    "products": [("create", [variant])],
                }
            ],
        )
        return await self.get_item(session, data.item_id)

    async def update_item(
        self, session: AsyncSession, item_id: str, data: m.ItemUpdate, if_match: str | None
    ) -> m.Item:
        if data.reorder_point is not None:
            raise NotSupported(
                "Tryton keeps no reorder point on a product", slug="reorder-point-not-supported"
            )
        current = await self._product(item_id)
        check_if_match(if_match, current.version)
        [product] = await self.find("product.product", [("code", "=", item_id)], ["template"], limit=1)
        template: Record = {}
        if data.description is not None:
            template["name"] = data.description
        if data.inspection_required is not None:
            action = "add" if data.inspection_required else "remove"
            template["categories"] = [(action, [self._category(mapping.INSPECTION_CATEGORY)])]
        if template:
            await self.call("product.template", "write", [product["template"]], template)
        if data.standard_price is not None:
            await self.call(
                "product.product", "write", [product["id"]], {"cost_price": Decimal(data.standard_price)}
            )
        return await self.get_item(session, item_id)

    async def get_item(self, session: AsyncSession, item_id: str) -> m.Item:
        return await self._product(item_id)

    async def item(self, item_id: str) -> m.Item:
        return await self._product(item_id)

    async def _product(self, item_id: str) -> m.Item:
        await self.places()
        found = await self.find("product.product", [("code", "=", item_id)], ITEM_FIELDS, limit=1)
        if not found:
            raise NotFound(f"item {item_id} does not exist", slug="item-not-found")
        return mapping.item(found[0], self.categories, self.currency)

    async def item_stock(self, session: AsyncSession, item_id: str) -> m.ItemStock:
        places = await self.places()
        item = await self._product(item_id)
        moves = await self.find(
            "stock.move",
            [("product.code", "=", item_id), ("state", "=", "done"), places.touching()],
            MOVE_FIELDS,
        )
        totals = dict.fromkeys(m.StockStatus, 0.0)
        for (_place, status), quantity in mapping.balances(moves, places).items():
            totals[status] = round(totals[status] + quantity, 3)
        return m.ItemStock(
            item_id=item_id,
            base_uom=item.base_uom,
            unrestricted=totals[UNR],
            quality_inspection=totals[QI],
            blocked=totals[BLK],
            reorder_point=None,
            below_reorder_point=False,
        )

    async def list_items(
        self, session: AsyncSession, q: PageQuery, item_type: m.ItemType | None
    ) -> Page[m.Item]:
        await self.places()
        where: list[Any] = []
        if item_type is not None:
            where.append(("categories", "in", [self._category(mapping.TYPE_CATEGORIES[item_type])]))
        rows = await self._page("product.product", where, ITEM_FIELDS, q)
        return _paged(rows, q, lambda r: mapping.item(r, self.categories, self.currency))

    async def _unit(self, code: str) -> int:
        found = await self.call(
            "product.uom", "search", [("symbol", "=", mapping.unit_symbol(code))], 0, 1, None
        )
        if not found:
            raise Unprocessable(f"Tryton has no unit {code!r}", slug="unknown-uom")
        return int(found[0])

    def _category(self, name: str) -> int:
        for category_id, category in self.categories.items():
            if category == name:
                return category_id
        raise ErpUnavailable(f"Tryton has no product category {name!r}: prepare the database first")

    # --- suppliers ------------------------------------------------------------------------------
    async def create_supplier(
        self, session: AsyncSession, data: m.SupplierCreate, op: Operation
    ) -> m.Supplier:
        if await self.call("party.party", "search", [("code", "=", data.supplier_id)], 0, 1, None):
            raise Conflict(f"supplier {data.supplier_id} already exists", slug="supplier-exists")
        address: Record = {}
        if data.country:
            address["country"] = await self._country(data.country)
        mechanisms = [("create", [{"type": "email", "value": data.email}])] if data.email else []
        await self.call(
            "party.party",
            "create",
            [
                {
                    "code": data.supplier_id,
                    "name": data.name,
                    "addresses": [("create", [address])],
                    "contact_mechanisms": mechanisms,
                }
            ],
        )
        return await self.get_supplier(session, data.supplier_id)

    async def _country(self, code: str) -> int:
        found = await self.call("country.country", "search", [("code", "=", code)], 0, 1, None)
        if found:
            return int(found[0])
        # ISO 3166 codes are reference data, not records of ours: add one Tryton has not loaded.
        [created] = await self.call("country.country", "create", [{"code": code, "name": code}])
        return int(created)

    async def get_supplier(self, session: AsyncSession, supplier_id: str) -> m.Supplier:
        found = await self.find("party.party", [("code", "=", supplier_id)], PARTY_FIELDS, limit=1)
        if not found:
            raise NotFound(f"supplier {supplier_id} does not exist", slug="supplier-not-found")
        [view] = await self._suppliers(found)
        return view

    async def list_suppliers(self, session: AsyncSession, q: PageQuery) -> Page[m.Supplier]:
        await self.places()
        where = [("code", "!=", None), ("id", "!=", self.company_party)]  # not the plant's own company
        rows = await self._page("party.party", where, PARTY_FIELDS, q)
        views = {v.supplier_id: v for v in await self._suppliers(rows)}
        return _paged(rows, q, lambda r: views[r["code"]])

    async def _suppliers(self, parties: list[Record]) -> list[m.Supplier]:
        addresses = await self.find(
            "party.address",
            [("id", "in", [a for p in parties for a in p["addresses"]])],
            ["party", "country.code"],
        )
        emails = await self.find(
            "party.contact_mechanism",
            [("id", "in", [c for p in parties for c in p["contact_mechanisms"]]), ("type", "=", "email")],
            ["party", "value"],
        )
        country = {a["party"]: (a.get("country.") or {}).get("code") for a in addresses}
        email = {e["party"]: e["value"] for e in emails}
        return [mapping.supplier(p, country.get(p["id"]), email.get(p["id"])) for p in parties]

    # --- purchase orders ----------------------------------------------------------------------
    async def create_purchase_order(
        self, session: AsyncSession, data: m.PurchaseOrderCreate, op: Operation
    ) -> m.PurchaseOrder:
        places = await self.places()
        key = mapping.tryton_key(op)
        found = await self.find("purchase.purchase", [("comment", "=", key)], ["state"], limit=1)
        if found:
            purchase_id, state = found[0]["id"], found[0]["state"]
        else:
            party = await self.party_id(data.supplier_id)
            currencies = {line.currency for line in data.lines}
            if len(currencies) > 1:
                raise Unprocessable("a Tryton purchase has one currency", slug="mixed-currencies")
            lines = []
            for line in data.lines:
                product, unit = await self.product(line.item_id)
                lines.append(
                    {
                        "product": product,
                        "quantity": domain.normalise_quantity(line.quantity),
                        "unit": unit,
                        "unit_price": Decimal(line.unit_price or "0"),
                    }
                )
            address = await self.call("party.address", "search", [("party", "=", party)], 0, 1, None)
            currency = await self.call(
                "currency.currency", "search", [("code", "=", currencies.pop())], 0, 1, None
            )
            if not currency:
                raise Unprocessable("Tryton has no such currency", slug="unknown-currency")
            [purchase_id] = await self.call(
                "purchase.purchase",
                "create",
                [
                    {
                        "party": party,
                        "invoice_address": address[0] if address else None,
                        "warehouse": next(iter(places.warehouses.values())),
                        "currency": currency[0],
                        "invoice_method": "manual",
                        "reference": data.reference,
                        "comment": key,
                        "lines": [("create", lines)],
                    }
                ],
            )
            state = "draft"
        if state == "draft":
            await self.call("purchase.purchase", "quote", [purchase_id])
            state = "quotation"
        if state == "quotation":
            await self.call("purchase.purchase", "confirm", [purchase_id])
        return await self._purchase([("id", "=", purchase_id)])

    async def get_purchase_order(self, session: AsyncSession, po_id: str) -> m.PurchaseOrder:
        return await self._purchase([("number", "=", po_id)], po_id)

    async def _purchase(self, where: list[Any], po_id: str = "") -> m.PurchaseOrder:
        found = await self.find("purchase.purchase", where, PURCHASE_FIELDS, limit=1)
        if not found:
            raise NotFound(f"purchase order {po_id} does not exist", slug="purchase-order-not-found")
        [view] = await self._purchases(found)
        return view

    async def _purchases(self, purchases: list[Record]) -> list[m.PurchaseOrder]:
        lines = await self.find(
            "purchase.line",
            [("purchase", "in", [p["id"] for p in purchases])],
            ["purchase", "product.code", "quantity", "unit_price", "moves", "sequence"],
            order=[("purchase", "ASC"), ("sequence", "ASC"), ("id", "ASC")],
        )
        received: dict[int, float] = {}
        done = await self.find(
            "stock.move",
            [("origin", "in", [f"purchase.line,{line['id']}" for line in lines]), ("state", "=", "done")],
            ["origin", "internal_quantity"],
        )
        for move in done:
            line_id = int(move["origin"].split(",")[1])
            received[line_id] = round(received.get(line_id, 0.0) + float(move["internal_quantity"]), 3)
        views = []
        for p in purchases:
            own = [line for line in lines if line["purchase"] == p["id"]]
            views.append(
                m.PurchaseOrder(
                    po_id=p["number"],
                    supplier_id=p["party."]["code"],
                    status=mapping.purchase_status(p["state"], p["shipment_state"]),
                    reference=p.get("reference"),
                    lines=[
                        m.PurchaseOrderLine(
                            line_no=number,
                            item_id=line["product."]["code"],
                            quantity=float(line["quantity"]),
                            received_quantity=received.get(line["id"], 0.0),
                            unit_price=Decimal(line["unit_price"]).quantize(Decimal("0.0001")),
                            currency=p["currency."]["code"],
                        )
                        for number, line in enumerate(own, start=1)
                    ],
                    version=mapping.version(p.get("write_date") or p.get("create_date")),
                    created_at=mapping.utc(p.get("create_date")),
                    updated_at=mapping.utc(p.get("write_date") or p.get("create_date")),
                )
            )
        return views

    async def list_purchase_orders(
        self,
        session: AsyncSession,
        q: PageQuery,
        supplier_id: str | None,
        status: m.PurchaseOrderStatus | None,
    ) -> Page[m.PurchaseOrder]:
        where: list[Any] = [("number", "!=", None)]
        if supplier_id:
            where.append(("party.code", "=", supplier_id))
        rows = await self._page("purchase.purchase", where, PURCHASE_FIELDS, q, order_by="number")
        views = {v.po_id: v for v in await self._purchases(rows)} if rows else {}
        if status is not None:
            rows = [r for r in rows if views[r["number"]].status == status]
        return _paged(rows, q, lambda r: views[r["number"]], key="number")

    async def cancel_purchase_order(
        self, session: AsyncSession, po_id: str, if_match: str | None
    ) -> m.PurchaseOrder:
        raise NotSupported(
            "a confirmed Tryton purchase is not cancelled as a whole: cancel its moves in Tryton",
            slug="purchase-cancel-not-supported",
        )

    # --- receipts -----------------------------------------------------------------------------
    async def post_goods_receipt(
        self, session: AsyncSession, data: m.GoodsReceiptCreate, op: Operation
    ) -> m.GoodsReceipt:
        places = await self.places()
        if not places.knows(data.location):
            raise _unknown_location(data.location)
        bound = await self._bound(session, "receipt", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.GoodsReceipt)
        key = mapping.tryton_key(op)
        await _serialise(session, f"po:{data.po_id}")
        found = await self.find("stock.shipment.in", [("reference", "=", key)], ["state"], limit=1)
        po = await self.get_purchase_order(session, data.po_id) if not found else None
        if found:
            shipment, state = found[0]["id"], found[0]["state"]
        else:
            assert po is not None
            shipment = await self._start_receipt(data, po, places, key)
            state = "draft"
        await self._finish("stock.shipment.in", shipment, state)
        [move] = await self.find(
            "stock.move",
            [("shipment", "=", f"stock.shipment.in,{shipment}")],
            [*MOVE_FIELDS, "origin"],
        )
        purchase = await self.purchase_of_line(move["origin"])
        with suppress(ErpRefused):  # recreates the open rest of the line; the receipt stands either way
            await self.call("purchase.purchase", "process", [purchase["id"]])
        item = await self._product(move["product."]["code"])
        return await self.record_receipt(session, op, move, data.supplier_lot, purchase, places, item)

    async def _start_receipt(
        self, data: m.GoodsReceiptCreate, po: m.PurchaseOrder, places: Places, key: str
    ) -> int:
        if po.status not in (m.PurchaseOrderStatus.OPEN, m.PurchaseOrderStatus.PARTIALLY_RECEIVED):
            from contracts.kit.problems import IllegalTransition

            raise IllegalTransition("purchase order", po.status, "receive goods")
        line = next((li for li in po.lines if li.line_no == data.line_no), None)
        if line is None:
            raise Unprocessable(
                f"purchase order {po.po_id} has no line {data.line_no}", slug="unknown-po-line"
            )
        quantity = domain.normalise_quantity(data.quantity)
        open_quantity = round(line.quantity - line.received_quantity, 3)
        if quantity > open_quantity + 1e-9:
            raise Conflict(
                f"line {line.line_no} of {po.po_id} has {open_quantity:g} open; "
                f"{quantity:g} would over-receive",
                slug="over-receipt",
                open_quantity=open_quantity,
            )
        item = await self._product(line.item_id)
        [purchase] = await self.find("purchase.purchase", [("number", "=", po.po_id)], ["party", "lines"])
        line_id = purchase["lines"][data.line_no - 1]
        pending = await self.find(
            "stock.move",
            [("origin", "=", f"purchase.line,{line_id}"), ("state", "=", "draft"), ("shipment", "=", None)],
            ["internal_quantity", "product"],
        )
        move = next((mv for mv in pending if float(mv["internal_quantity"]) + 1e-9 >= quantity), None)
        if move is None:
            raise Conflict(
                f"Tryton has no open move of {quantity:g} for line {line.line_no} of {po.po_id}",
                slug="erp-refused",
            )
        lot = await self._lot_id(data.lot_id or new_id("LOT"), move["product"], line.item_id)
        target = places.location(data.location, domain.receipt_status(item.inspection_required))
        [shipment] = await self.call(
            "stock.shipment.in",
            "create",
            [
                {
                    "supplier": purchase["party"],
                    "warehouse": places.warehouses[data.location],
                    "warehouse_input": target,  # one step: the goods land where their status says
                    "warehouse_storage": target,
                    "reference": key,
                    "incoming_moves": [
                        ("add", [move["id"]]),
                        ("write", [move["id"]], {"quantity": quantity, "lot": lot, "to_location": target}),
                    ],
                }
            ],
        )
        return int(shipment)

    async def _lot_id(self, number: str, product: int, item_id: str) -> int:
        found = await self.find("stock.lot", [("number", "=", number)], ["product"], limit=1)
        if found:
            if found[0]["product"] != product:
                raise Conflict(f"lot {number} holds another item, not {item_id}", slug="lot-item-mismatch")
            return int(found[0]["id"])
        [created] = await self.call("stock.lot", "create", [{"number": number, "product": product}])
        return int(created)

    async def purchase_of_line(self, origin: str | None) -> Record:
        if origin and origin.startswith("stock.move,"):  # the dock's second step: its incoming move
            [incoming] = await self.find("stock.move", [("id", "=", int(origin.split(",")[1]))], ["origin"])
            origin = incoming["origin"]
        if not origin or not origin.startswith("purchase.line,"):
            return {}
        [line] = await self.find("purchase.line", [("id", "=", int(origin.split(",")[1]))], ["purchase"])
        [purchase] = await self.find(
            "purchase.purchase", [("id", "=", line["purchase"])], ["number", "lines", "party.code"]
        )
        purchase["line_no"] = purchase["lines"].index(line["id"]) + 1
        return purchase

    async def record_receipt(
        self,
        session: AsyncSession,
        op: Operation | None,
        move: Record,
        supplier_lot: str | None,
        purchase: Record,
        places: Places,
        item: m.Item,
        *,
        production_order: str | None = None,
    ) -> m.GoodsReceipt:
        """Bind a done incoming move to a receipt of ours and announce it (or return the binding
        an earlier attempt, or the poller, already made). Only local writes: no Tryton call."""
        existing = await self.bound_record(session, "receipt", "stock.move", move["id"])
        if existing is not None:
            return msgspec.json.decode(existing.view, type=m.GoodsReceipt)
        place, status = places.keys[move["to_location"]]
        now = utcnow()
        source = "purchase" if purchase else "production"
        supplier_id = purchase["party."]["code"] if purchase else None
        quantity = float(move["internal_quantity"])
        txn = m.InventoryTransaction(
            txn_id=new_id("TXN"),
            type=m.MovementType.RECEIPT,
            lot_id=move["lot."]["number"],
            item_id=item.item_id,
            quantity=quantity,
            location=place,
            to_location=None,
            from_status=None,
            to_status=status,
            order_ref=production_order,
            cost_centre=None,
            reason=None,
            reverses=None,
            reversed_by=None,
            version=1,
            created_at=now,
            updated_at=now,
        )
        receipt = m.GoodsReceipt(
            receipt_id=new_id("GR"),
            source=source,
            po_id=purchase.get("number"),
            line_no=purchase.get("line_no"),
            production_order=production_order,
            item_id=item.item_id,
            supplier_id=supplier_id,
            lot_id=txn.lot_id,
            quantity=quantity,
            location=place,
            stock_status=status,
            txn_id=txn.txn_id,
            version=1,
            created_at=now,
            updated_at=now,
        )
        lot_view = {"supplier_id": supplier_id, "supplier_lot": supplier_lot, "origin": source}
        session.add(
            BindingRow(
                id=receipt.receipt_id,
                kind="receipt",
                model="stock.move",
                tryton_id=move["id"],
                lot_id=receipt.lot_id,
                po_id=receipt.po_id,
                type=source,
                order_ref=production_order,
                operation=op,
                view=msgspec.json.encode(receipt),
                lot_view=msgspec.json.encode(lot_view),
            )
        )
        await self._record_txn(session, op, move["id"], txn)
        await outbox.publish(
            session,
            SOURCE,
            receipt.receipt_id,
            ev.GoodsReceiptPosted(
                receipt_id=receipt.receipt_id,
                source=source,
                item_id=item.item_id,
                lot_id=receipt.lot_id,
                quantity=quantity,
                location=place,
                stock_status=status,
                inspection_required=item.inspection_required,
                po_id=receipt.po_id,
                line_no=receipt.line_no,
                supplier_id=supplier_id,
                production_order=production_order,
            ),
        )
        return receipt

    async def post_production_receipt(
        self, session: AsyncSession, data: m.ProductionReceiptCreate, op: Operation
    ) -> m.GoodsReceipt:
        places = await self.places()
        if not places.knows(data.location):
            raise _unknown_location(data.location)
        bound = await self._bound(session, "receipt", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.GoodsReceipt)
        product = await self.product_id(data.item_id)
        item = await self._product(data.item_id)
        quantity = domain.normalise_quantity(data.quantity)
        lot_number = data.lot_id or new_id("LOT")
        status = data.stock_status or domain.receipt_status(item.inspection_required)
        target = places.location(data.location, status)
        production, state = await self._own_production(
            session, "outputs", lot_number, product, quantity, target
        )
        if production is None:
            lot = await self._lot_id(lot_number, product, data.item_id)
            unit = (await self.product(data.item_id))[1]
            where = await self._production_location(places.warehouses[data.location])
            output = {
                "product": product,
                "unit": unit,
                "quantity": quantity,
                "lot": lot,
                "from_location": where,
                "to_location": target,
                "unit_price": Decimal(item.standard_price or 0),
                "currency": await self._currency_id(),
            }
            [production] = await self.call(
                "production",
                "create",
                [
                    {
                        "product": product,
                        "unit": unit,
                        "quantity": quantity,
                        "warehouse": places.warehouses[data.location],
                        "location": where,
                        "outputs": [("create", [output])],
                    }
                ],
            )
            state = "draft"
        await self._finish("production", production, state)
        [move] = await self.find("stock.move", [("production_output", "=", production)], MOVE_FIELDS)
        return await self.record_receipt(
            session, op, move, None, {}, places, item, production_order=data.production_order
        )

    async def _own_production(
        self, session: AsyncSession, side: str, lot: str, product: int, quantity: float, location: int
    ) -> tuple[int | None, str]:
        """A production our Tryton user started for this lot, product, quantity and place that no
        record of ours claims yet: an earlier attempt of this command."""
        far = "to_location" if side == "outputs" else "from_location"
        candidates = await self.find(
            "stock.move",
            [
                (f"production_{side[:-1]}", "!=", None),
                ("lot.number", "=", lot),
                ("product", "=", product),
                ("quantity", "=", quantity),
                (far, "=", location),
                ("state", "!=", "cancelled"),
                ("create_uid", "=", self.uid),
            ],
            [f"production_{side[:-1]}", f"production_{side[:-1]}.state"],
        )
        for move in candidates:
            kind = "receipt" if side == "outputs" else "txn"
            if await self.bound_record(session, kind, "stock.move", move["id"]) is None:
                return int(move[f"production_{side[:-1]}"]), move[f"production_{side[:-1]}."]["state"]
        return None, "draft"

    async def _production_location(self, warehouse: int) -> int:
        [house] = await self.find("stock.location", [("id", "=", warehouse)], ["production_location"])
        if not house["production_location"]:
            raise ErpUnavailable("the Tryton warehouse has no production location")
        return int(house["production_location"])

    async def _currency_id(self) -> int:
        return int(
            (await self.call("currency.currency", "search", [("code", "=", self.currency)], 0, 1, None))[0]
        )

    async def get_goods_receipt(self, session: AsyncSession, receipt_id: str) -> m.GoodsReceipt:
        row = await session.get(BindingRow, receipt_id)
        if row is None or row.kind != "receipt":
            raise NotFound(f"goods receipt {receipt_id} does not exist", slug="goods-receipt-not-found")
        return msgspec.json.decode(row.view, type=m.GoodsReceipt)

    async def list_goods_receipts(
        self, session: AsyncSession, q: PageQuery, po_id: str | None
    ) -> Page[m.GoodsReceipt]:
        where = [BindingRow.po_id == po_id] if po_id else []
        return await _bindings(session, "receipt", m.GoodsReceipt, q, where)

    # --- lots and movements -------------------------------------------------------------------
    async def get_lot(self, session: AsyncSession, lot_id: str) -> m.Lot:
        lot = await self._lot(session, lot_id)
        if lot is None:
            raise NotFound(f"lot {lot_id} does not exist", slug="lot-not-found")
        return lot[0]

    async def _lot(
        self, session: AsyncSession, lot_id: str
    ) -> tuple[m.Lot, dict[mapping.Key, float], int] | None:
        """The lot as we show it, its balances, and its Tryton id; None if Tryton has no such lot."""
        places = await self.places()
        # One call for a lot with moves (every lot but a brand-new one), a second only without.
        moves = await self.find(
            "stock.move", [("lot.number", "=", lot_id)], [*MOVE_FIELDS, "lot.create_date"]
        )
        if moves:
            lot = {"id": moves[0]["lot."]["id"], "number": lot_id, "product.": moves[0]["product."]}
            lot["create_date"] = moves[0]["lot."]["create_date"]
        else:
            found = await self.find(
                "stock.lot", [("number", "=", lot_id)], ["number", "product.code", "create_date"], limit=1
            )
            if not found:
                return None
            lot = found[0]
        view, balances = await self._lot_view(session, lot, moves, places)
        return view, balances, int(lot["id"])

    async def _lot_view(
        self, session: AsyncSession, lot: Record, moves: list[Record], places: Places
    ) -> tuple[m.Lot, dict[mapping.Key, float]]:
        totals = mapping.balances(moves, places)
        receipt = await session.scalar(
            select(BindingRow.lot_view)
            .where(BindingRow.kind == "receipt", BindingRow.lot_id == lot["number"])
            .order_by(BindingRow.created_at)
            .limit(1)
        )
        origin = msgspec.json.decode(receipt) if receipt else {}
        stamps = [mv["write_date"] or mv["create_date"] for mv in moves] or [lot["create_date"]]
        balances = [
            m.Balance(location=place, status=status, quantity=quantity)
            for (place, status), quantity in sorted(totals.items())
            if quantity > 0
        ]
        view = m.Lot(
            lot_id=lot["number"],
            item_id=lot["product."]["code"],
            supplier_id=origin.get("supplier_id"),
            supplier_lot=origin.get("supplier_lot"),
            origin=origin.get("origin", "purchase"),
            quantity=round(sum(b.quantity for b in balances), 3),
            balances=balances,
            # Every movement adds moves to the lot and none is ever removed.
            version=len(moves) + 1,
            created_at=mapping.utc(lot["create_date"]),
            updated_at=mapping.utc(max(stamps)),
        )
        return view, totals

    async def list_lots(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        supplier_id: str | None,
        status: m.StockStatus | None,
    ) -> Page[m.Lot]:
        places = await self.places()
        where: list[Any] = []
        if item_id:
            where.append(("product.code", "=", item_id))
        if supplier_id:
            numbers = await session.scalars(
                select(BindingRow.lot_id).where(
                    BindingRow.kind == "receipt", BindingRow.lot_view.contains(supplier_id.encode())
                )
            )
            where.append(("number", "in", list(numbers)))
        rows = await self._page(
            "stock.lot", where, ["number", "product.code", "create_date"], q, order_by="number"
        )
        moves = await self.find("stock.move", [("lot", "in", [r["id"] for r in rows])], [*MOVE_FIELDS, "lot"])
        views = {}
        for row in rows:
            view, totals = await self._lot_view(
                session, row, [mv for mv in moves if mv["lot"] == row["id"]], places
            )
            if supplier_id and view.supplier_id != supplier_id:
                continue
            if status is None or any(s == status and qty > 0 for (_p, s), qty in totals.items()):
                views[row["number"]] = view
        return _paged(
            [r for r in rows if r["number"] in views], q, lambda r: views[r["number"]], key="number"
        )

    async def post_movement(
        self,
        session: AsyncSession,
        data: m.InventoryTransactionCreate,
        if_match: str | None,
        op: Operation,
    ) -> m.InventoryTransaction:
        places = await self.places()
        for place in (data.location, data.to_location):
            if place is not None and not places.knows(place):
                raise _unknown_location(place)
        bound = await self._bound(session, "txn", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.InventoryTransaction)
        await _serialise(session, f"lot:{data.lot_id}")
        lot = await self._lot(session, data.lot_id)
        if lot is None:
            raise Unprocessable(f"lot {data.lot_id} does not exist", slug="unknown-lot")
        view, balances, lot_record = lot
        kind = m.MovementType(data.type)
        model = _document_of(kind)
        document, state = await self._started(session, model, op, data, places)
        if document is None:
            check_if_match(if_match, view.version)
            movement = domain.plan_movement(
                balances,
                kind,
                location=data.location,
                quantity=data.quantity,
                from_status=data.from_status,
                to_location=data.to_location,
                order_ref=data.order_ref,
            )
            document = await self._start_movement(model, movement, view, lot_record, places, op)
            state = "draft"
        await self._finish(model, document, state)
        moves = await self.find("stock.move", _moves_of(model, document), [*MOVE_FIELDS, "to_location.type"])
        [move] = [mv for mv in moves if mv["state"] == "done"]
        return await self.record_movement(session, op, move, places, data)

    async def _started(
        self,
        session: AsyncSession,
        model: str,
        op: Operation,
        data: m.InventoryTransactionCreate,
        places: Places,
    ) -> tuple[int | None, str]:
        if model == "production":
            product = await self.product_id((await self.get_lot(session, data.lot_id)).item_id)
            source = places.location(data.location, UNR)
            return await self._own_production(
                session, "inputs", data.lot_id, product, domain.normalise_quantity(data.quantity), source
            )
        found = await self.find(model, [("reference", "=", mapping.tryton_key(op))], ["state"], limit=1)
        return (found[0]["id"], found[0]["state"]) if found else (None, "draft")

    async def _start_movement(
        self,
        model: str,
        movement: domain.Movement,
        lot: m.Lot,
        lot_record: int,
        places: Places,
        op: Operation,
    ) -> int:
        product, unit = await self.product(lot.item_id)
        assert movement.from_status is not None
        source = places.location(movement.location, movement.from_status)
        if movement.to_status is not None:
            target = places.location(movement.to_location or movement.location, movement.to_status)
        elif movement.type is m.MovementType.SCRAP:
            target = places.lost_found
        elif movement.type is m.MovementType.RETURN_TO_VENDOR:
            target = places.supplier
        else:
            target = await self._production_location(places.warehouses[movement.location])
        move: Record = {
            "product": product,
            "unit": unit,
            "quantity": movement.quantity,
            "lot": lot_record,
            "from_location": source,
            "to_location": target,
        }
        if model == "production":
            values: Record = {
                "warehouse": places.warehouses[movement.location],
                "location": target,
                "inputs": [("create", [move])],
            }
        elif model == "stock.shipment.in.return":
            if not lot.supplier_id:
                raise Conflict(f"lot {lot.lot_id} came from no supplier", slug="no-supplier")
            move.update(unit_price=Decimal(0), currency=await self._currency_id())
            values = {
                "supplier": await self.party_id(lot.supplier_id),
                "from_location": source,
                "to_location": target,
                "reference": mapping.tryton_key(op),
                "moves": [("create", [move])],
            }
        else:
            values = {
                "from_location": source,
                "to_location": target,
                "reference": mapping.tryton_key(op),
                "moves": [("create", [move])],
            }
        [document] = await self.call(model, "create", [values])
        return int(document)

    async def record_movement(
        self,
        session: AsyncSession,
        op: Operation | None,
        move: Record,
        places: Places,
        data: m.InventoryTransactionCreate | None,
    ) -> m.InventoryTransaction:
        """Our transaction for a done move between mapped locations (or out of them), bound once."""
        existing = await self.bound_record(session, "txn", "stock.move", move["id"])
        if existing is not None:
            return msgspec.json.decode(existing.view, type=m.InventoryTransaction)
        source = places.keys.get(move["from_location"])
        target = places.keys.get(move["to_location"])
        kind = mapping.movement_type(source, target, places.types.get(move["to_location"], ""))
        assert kind is not None
        assert source is not None
        now = utcnow()
        txn = m.InventoryTransaction(
            txn_id=new_id("TXN"),
            type=kind,
            lot_id=move["lot."]["number"],
            item_id=move["product."]["code"],
            quantity=float(move["internal_quantity"]),
            location=source[0],
            to_location=target[0] if target and target[0] != source[0] else None,
            from_status=source[1],
            to_status=target[1] if target else None,
            order_ref=data.order_ref if data else None,
            cost_centre=data.cost_centre if data else None,
            reason=data.reason if data else None,
            reverses=None,
            reversed_by=None,
            version=1,
            created_at=now,
            updated_at=now,
        )
        await self._record_txn(session, op, move["id"], txn)
        return txn

    async def _record_txn(
        self, session: AsyncSession, op: Operation | None, move_id: int, txn: m.InventoryTransaction
    ) -> None:
        session.add(
            BindingRow(
                id=txn.txn_id,
                kind="txn",
                model="stock.move",
                tryton_id=move_id,
                lot_id=txn.lot_id,
                type=txn.type,
                order_ref=txn.order_ref,
                operation=op,
                view=msgspec.json.encode(txn),
            )
        )
        await session.flush()
        await outbox.publish(
            session,
            SOURCE,
            txn.txn_id,
            ev.InventoryTxnPosted(
                txn_id=txn.txn_id,
                type=txn.type,
                lot_id=txn.lot_id,
                item_id=txn.item_id,
                quantity=txn.quantity,
                location=txn.location,
                to_location=txn.to_location,
                from_status=txn.from_status,
                to_status=txn.to_status,
                order_ref=txn.order_ref,
                cost_centre=txn.cost_centre,
            ),
        )
        if txn.from_status != txn.to_status:
            await outbox.publish(
                session,
                SOURCE,
                txn.lot_id,
                ev.StockStatusChanged(
                    lot_id=txn.lot_id,
                    item_id=txn.item_id,
                    location=txn.to_location or txn.location,
                    from_status=txn.from_status,
                    to_status=txn.to_status,
                    quantity=txn.quantity,
                    txn_id=txn.txn_id,
                ),
            )

    async def _finish(self, model: str, document: int, state: str) -> None:
        """Press the document's buttons from `state` until it is done."""
        buttons = BUTTONS[model]
        while state != "done":
            button = buttons.get(state)
            if button is None:
                raise ErpRefused(
                    f"the Tryton {model} is {state}; it cannot be completed", current_state=state
                )
            await self.call(model, button, [document])
            if button != "assign_try":
                state = AFTER[button]
                continue
            [current] = await self.find(model, [("id", "=", document)], ["state"])
            if current["state"] == "waiting":
                # Someone took the stock between our check and Tryton's reservation.
                await self.call(model, "cancel", [document])
                raise domain.InsufficientStock(
                    "Tryton could not reserve the quantity at the source location; read the lot and retry"
                )
            state = current["state"]

    async def reverse_movement(
        self, session: AsyncSession, txn_id: str, data: m.ReversalCreate, op: Operation
    ) -> m.InventoryTransaction:
        raise NotSupported(
            "reverse a movement in Tryton by a new movement the other way", slug="reversal-not-supported"
        )

    async def get_movement(self, session: AsyncSession, txn_id: str) -> m.InventoryTransaction:
        row = await session.get(BindingRow, txn_id)
        if row is None or row.kind != "txn":
            raise NotFound(
                f"inventory transaction {txn_id} does not exist", slug="inventory-transaction-not-found"
            )
        return msgspec.json.decode(row.view, type=m.InventoryTransaction)

    async def list_movements(
        self,
        session: AsyncSession,
        q: PageQuery,
        lot_id: str | None,
        type_: m.MovementType | None,
        order_ref: str | None,
    ) -> Page[m.InventoryTransaction]:
        where = []
        if lot_id:
            where.append(BindingRow.lot_id == lot_id)
        if type_:
            where.append(BindingRow.type == type_)
        if order_ref:
            where.append(BindingRow.order_ref == order_ref)
        return await _bindings(session, "txn", m.InventoryTransaction, q, where)

    async def _bound(self, session: AsyncSession, kind: str, op: Operation) -> BindingRow | None:
        row: BindingRow | None = await session.scalar(
            select(BindingRow).where(BindingRow.kind == kind, BindingRow.operation == op)
        )
        return row

    async def bound_record(
        self, session: AsyncSession, kind: str, model: str, tryton_id: int
    ) -> BindingRow | None:
        row: BindingRow | None = await session.scalar(
            select(BindingRow).where(
                BindingRow.kind == kind, BindingRow.model == model, BindingRow.tryton_id == tryton_id
            )
        )
        return row

    async def _page(
        self, model: str, where: list[Any], fields: list[str], q: PageQuery, *, order_by: str = "code"
    ) -> list[Record]:
        """Keyset pages over a natural key (the cursor is the last key seen)."""
        domain_ = list(where)
        if q.updated_since is not None:
            since = q.updated_since.astimezone().replace(tzinfo=None)
            domain_.append(["OR", ("write_date", ">", since), ("create_date", ">", since)])
        if q.cursor:
            domain_.append((order_by, ">", _decode_cursor(q.cursor)))
        return await self.find(model, domain_, fields, limit=min(q.limit, 500) + 1, order=[(order_by, "ASC")])

    # --- costs and requisitions ------------------------------------------------------------------
    async def post_cost(
        self, session: AsyncSession, data: m.CostPostingCreate, op: Operation
    ) -> m.CostPosting:
        raise _no_costs()

    async def get_cost(self, session: AsyncSession, posting_id: str) -> m.CostPosting:
        raise _no_costs()

    async def list_costs(
        self, session: AsyncSession, q: PageQuery, order_ref: str | None, cost_centre: str | None
    ) -> Page[m.CostPosting]:
        raise _no_costs()

    async def create_requisition(
        self, session: AsyncSession, data: m.PurchaseRequisitionCreate, op: Operation
    ) -> m.PurchaseRequisition:
        raise _no_requisitions()

    async def get_requisition(self, session: AsyncSession, requisition_id: str) -> m.PurchaseRequisition:
        raise _no_requisitions()

    async def list_requisitions(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        status: m.RequisitionStatus | None,
    ) -> Page[m.PurchaseRequisition]:
        raise _no_requisitions()

    async def move_requisition(
        self,
        session: AsyncSession,
        requisition_id: str,
        action: str,
        if_match: str | None,
        *,
        po_id: str | None = None,
        reason: str | None = None,
    ) -> m.PurchaseRequisition:
        raise _no_requisitions()


PURCHASE_FIELDS = ["number", "party.code", "state", "shipment_state", "reference", "currency.code"]
PURCHASE_FIELDS += ["create_date", "write_date"]


async def _serialise(session: AsyncSession, name: str) -> None:
    """Commands on one lot (or one purchase order) run one at a time until their transaction ends,
    so two cannot both pass the stock check. SQLite has one writer already; PostgreSQL takes a
    transaction-scoped advisory lock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("name", type_=Text), 0))),
            {"name": f"erp-tryton:{name}"},
        )


def _document_of(kind: m.MovementType) -> str:
    if kind is m.MovementType.RETURN_TO_VENDOR:
        return "stock.shipment.in.return"
    if kind is m.MovementType.ISSUE:
        return "production"
    return "stock.shipment.internal"


def _moves_of(model: str, document: int) -> list[Any]:
    if model == "production":
        return [("production_input", "=", document)]
    return [("shipment", "=", f"{model},{document}")]


def _missing(kind: type[Problem], what: str, record_id: str) -> Problem:
    if kind is NotFound:
        return NotFound(f"{what} {record_id} does not exist", slug=f"{what.replace(' ', '-')}-not-found")
    return Unprocessable(f"{what} {record_id} does not exist", slug=f"unknown-{what.replace(' ', '-')}")


def _unknown_location(place: str) -> Unprocessable:
    return Unprocessable(
        f"location {place} is not mapped to Tryton locations (ERP_TRYTON_LOCATIONS)", slug="unknown-location"
    )


def _no_costs() -> NotSupported:
    return NotSupported(
        "cost postings need Tryton's accounting (account.move with a chart of accounts), which this "
        "connector does not configure",
        slug="cost-postings-not-supported",
    )


def _no_requisitions() -> NotSupported:
    return NotSupported(
        "purchase requisitions are not mapped to Tryton's purchase requests yet",
        slug="requisitions-not-supported",
    )


def _encode_cursor(key: str) -> str:
    import base64

    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    import base64
    import binascii

    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Unprocessable(
            "cursor is not one this API issued", slug="invalid-cursor", title="Invalid cursor"
        ) from exc


def _paged(rows: list[Record], q: PageQuery, convert: Any, *, key: str = "code") -> Page[Any]:
    limit = min(q.limit, 500)
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = _encode_cursor(rows[-1][key]) if more and rows else None
    return Page(items=[convert(r) for r in rows], next_cursor=cursor)


async def _bindings(
    session: AsyncSession, kind: str, shape: type[Any], q: PageQuery, where: list[Any]
) -> Page[Any]:
    from contracts.kit.paging import keyset, page

    query = keyset(
        select(BindingRow).where(BindingRow.kind == kind, *where),
        BindingRow.updated_at,
        BindingRow.id,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
    )
    rows = list((await session.scalars(query)).all())
    return page(rows, q.limit, lambda r: msgspec.json.decode(r.view, type=shape))
