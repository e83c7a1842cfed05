"""Items and suppliers: product.product (code = item id) and party.party (code = supplier id)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.paging import Page, PageQuery, check_if_match
from contracts.kit.problems import Conflict, NotFound, Unprocessable
from contracts.models import erp as m
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.connection import (
    ITEM_FIELDS,
    ITEM_STAMPS,
    MOVE_FIELDS,
    STAMPS,
    Record,
    Tryton,
    serialise,
)
from system_apis.erp.backends.tryton.mapping import BLK, QI, UNR, Places
from system_apis.erp.port import Operation

PARTY_FIELDS = ["code", "name", "addresses", "contact_mechanisms", "create_date", "write_date"]
# A supplier changed since when its party, an address or a contact mechanism of it did (Tryton
# edits those as records of their own, without writing the party).
PARTY_STAMPS = tuple(
    f"{part}{stamp}" for part in ("", "addresses.", "contact_mechanisms.") for stamp in STAMPS
)


class Catalogue(Tryton):
    async def create_item(self, session: AsyncSession, data: m.ItemCreate, op: Operation) -> m.Item:
        places = await self.places()
        if data.reorder_point is not None:
            await self.require_order_points()
        key = mapping.tryton_key(op)
        exists = Conflict(f"item {data.item_id} already exists", slug="item-exists")
        if await self._created_before(session, "product.product", data.item_id, ("description", key), exists):
            return await self.get_item(session, data.item_id)
        uom = await self._unit(data.base_uom)
        categories = [self._category(mapping.TYPE_CATEGORIES[data.item_type])]
        if data.inspection_required:
            categories.append(self._category(mapping.INSPECTION_CATEGORY))
        variant: Record = {"description": key}  # the product's free text: our key, as a purchase's comment
        if data.standard_price is not None:
            variant["cost_price"] = Decimal(data.standard_price)
        if data.reorder_point is not None:  # in the same Tryton transaction as the product
            variant["order_points"] = [("create", [self._order_point(places, data.reorder_point)])]
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
                    "account_category": await self.accounting_category(),
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
            await self.require_order_points()
        current = await self.item(item_id)
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
        variant: Record = {}
        if data.standard_price is not None:
            variant["cost_price"] = Decimal(data.standard_price)
        if data.reorder_point is not None:
            variant["order_points"] = await self._order_points_change(product["id"], data.reorder_point)
        if variant:
            await self.call("product.product", "write", [product["id"]], variant)
        return await self.get_item(session, item_id)

    async def _created_before(
        self, session: AsyncSession, model: str, code: str, mark: tuple[str, str], exists: Conflict
    ) -> bool:
        """Whether an earlier attempt of this create made the record with this code: Tryton kept
        it while its answer was lost (a 503), and the record carries the command's key in
        `mark` (field, key). A record of this code without the key is another's: `exists`.
        Creates of one code run one at a time, so the later of two at once sees the first's
        record (Tryton would refuse its duplicate code: erp-refused, not `exists`)."""
        await serialise(session, f"{model}:{code}")
        found = await self.call(model, "search", [("code", "=", code)], 0, 1, None)
        if not found:
            return False
        field, key = mark
        if await self.call(model, "search", [("id", "=", found[0]), (field, "=", key)], 0, 1, None):
            return True
        raise exists

    async def require_order_points(self) -> None:
        await self.require("stock.order_point", "reorder points", "reorder-point-not-supported")

    def _order_point(self, places: Places, reorder_point: float) -> Record:
        """A purchase order point at the home warehouse: under `min_quantity` Tryton's supply
        proposes a purchase request up to `target_quantity` (here the same; a plant raises it in
        Tryton, and a later reorder point above it raises it too)."""
        return {
            "location": places.home(),
            "type": "purchase",
            "min_quantity": reorder_point,
            "target_quantity": reorder_point,
            "company": self.client.context["company"],
        }

    async def _order_points_change(self, product: int, reorder_point: float) -> list[Any]:
        current = (await self.order_points([product])).get(product)
        if current is None:
            return [("create", [self._order_point(await self.places(), reorder_point)])]
        target = max(float(current["target_quantity"]), reorder_point)
        return [("write", [current["id"]], {"min_quantity": reorder_point, "target_quantity": target})]

    async def get_item(self, session: AsyncSession, item_id: str) -> m.Item:
        return await self.item(item_id)

    async def item_stock(self, session: AsyncSession, item_id: str) -> m.ItemStock:
        places = await self.places()
        item = await self.item(item_id)
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
            reorder_point=item.reorder_point,
            below_reorder_point=item.reorder_point is not None and totals[UNR] < item.reorder_point,
        )

    async def list_items(
        self, session: AsyncSession, q: PageQuery, item_type: m.ItemType | None
    ) -> Page[m.Item]:
        await self.places()
        where: list[Any] = []
        if item_type is not None:
            where.append(("categories", "in", [self._category(mapping.TYPE_CATEGORIES[item_type])]))

        async def views(rows: list[Record]) -> dict[str, m.Item]:
            return {v.item_id: v for v in await self.items(rows)}

        return await self.listed(
            "product.product", where, ITEM_FIELDS, q, views, key="code", stamps=ITEM_STAMPS
        )

    async def _unit(self, code: str) -> int:
        found = await self.call(
            "product.uom", "search", [("symbol", "=", mapping.unit_symbol(code))], 0, 1, None
        )
        if not found:
            raise Unprocessable(f"Tryton has no unit {code!r}", slug="unknown-uom")
        return int(found[0])

    async def create_supplier(
        self, session: AsyncSession, data: m.SupplierCreate, op: Operation
    ) -> m.Supplier:
        key = mapping.tryton_key(op)
        exists = Conflict(f"supplier {data.supplier_id} already exists", slug="supplier-exists")
        if await self._created_before(
            session, "party.party", data.supplier_id, ("identifiers.code", key), exists
        ):
            return await self.get_supplier(session, data.supplier_id)
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
                    # A party has no free text: our key is an identifier of no type (unchecked).
                    "identifiers": [("create", [{"type": None, "code": key}])],
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

        async def views(rows: list[Record]) -> dict[str, m.Supplier]:
            return {v.supplier_id: v for v in await self._suppliers(rows)}

        return await self.listed(
            "party.party", where, PARTY_FIELDS, q, views, key="code", stamps=PARTY_STAMPS
        )

    async def _suppliers(self, parties: list[Record]) -> list[m.Supplier]:
        addresses = await self.find(
            "party.address",
            [("id", "in", [a for p in parties for a in p["addresses"]])],
            ["party", "country.code", *STAMPS],
        )
        emails = await self.find(
            "party.contact_mechanism",
            [("id", "in", [c for p in parties for c in p["contact_mechanisms"]]), ("type", "=", "email")],
            ["party", "value", *STAMPS],
        )
        address = {a["party"]: a for a in addresses}
        email = {e["party"]: e for e in emails}
        return [mapping.supplier(p, address.get(p["id"]), email.get(p["id"])) for p in parties]
