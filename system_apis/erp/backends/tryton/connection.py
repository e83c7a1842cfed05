"""A session with one Tryton database and what every part of the connector shares: calls with
Tryton's errors as our problems, the mapped locations, item reads, the document driver, bindings."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.inputs import kept_quantity
from contracts.kit.paging import DB_INT_MAX, MAX_LIMIT, Page, PageQuery, invalid_cursor, keyset, page
from contracts.kit.problems import Conflict, NotFound, Problem, Unprocessable
from contracts.models import erp as m
from system_apis.erp import domain
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.client import (
    TrytonBusy,
    TrytonClient,
    TrytonDenied,
    TrytonError,
    TrytonRefused,
)
from system_apis.erp.backends.tryton.mapping import Places
from system_apis.erp.backends.tryton.settings import TrytonSettings
from system_apis.erp.backends.tryton.store import BindingRow
from system_apis.erp.port import NotSupported, Operation
from system_apis.erp.store import serialise as serialise  # the ERP service's lock, used here by name

log = logging.getLogger("plantbridge.erp.tryton")
Record = dict[str, Any]
V = TypeVar("V")

# The buttons that take each document we start from one state to the next, up to done.
BUTTONS: dict[str, dict[str, str]] = {
    "stock.shipment.in": {"draft": "receive", "received": "do"},
    "stock.shipment.internal": {"draft": "wait", "waiting": "assign_try", "assigned": "do"},
    "stock.shipment.in.return": {"draft": "wait", "waiting": "assign_try", "assigned": "do"},
    "production": {"draft": "wait", "waiting": "assign_try", "assigned": "run", "running": "do"},
    # One step (storage = output): assigned straight to packed, then done.
    "stock.shipment.out": {"draft": "wait", "waiting": "assign_try", "assigned": "pack", "packed": "do"},
}
AFTER = {"receive": "done", "do": "done", "wait": "waiting", "run": "running", "pack": "packed"}
ITEM_FIELDS = ["code", "name", "default_uom.symbol", "categories", "lot_required", "cost_price"]
ITEM_FIELDS += ["create_date", "write_date", "template", "template.write_date"]
# When a record was created or last written: a list's `updated_since` finds records changed after
# it by these. An item is its product and the product's template (update_item writes its name and
# categories there), so the template's writes change the item too.
STAMPS = ("write_date", "create_date")
ITEM_STAMPS = (*STAMPS, "template.write_date")
# Models of optional Tryton modules, and the module: the connector maps onto them where the
# database has the module activated, and answers 501 naming the module where it has not.
OPTIONAL_MODELS = {"purchase.requisition": "purchase_requisition", "stock.order_point": "stock_supply"}
MOVE_FIELDS = ["from_location", "to_location", "internal_quantity", "state", "lot.number"]
MOVE_FIELDS += ["product.code", "write_date", "create_date"]


# Reads of Tryton records one page of a filtered list may take (see `listed`).
READS_PER_PAGE = 10

# A call Tryton rolled back for a lost lock race is sent again after these pauses (seconds, with
# jitter) before the command answers 503: it did nothing, and the race is usually over at once.
BUSY_PAUSES = (0.1, 0.3, 0.9)


class ErpUnavailable(Problem):
    status, slug, title = 503, "erp-unavailable", "The ERP is unavailable"


class ErpRefused(Conflict):
    slug, title = "erp-refused", "The ERP refused the change"


class ErpAccessDenied(Problem):
    status, slug, title = 503, "erp-access-denied", "The connector may not do this in the ERP"


def problem_of(exc: TrytonError) -> Problem:
    if isinstance(exc, TrytonRefused):
        return ErpRefused(f"Tryton refused: {exc}")
    if isinstance(exc, TrytonDenied):
        return ErpAccessDenied(f"Tryton denied the connector's user: {exc}; check its access rights")
    return ErpUnavailable(f"{exc}; retry later", headers={"Retry-After": "5"})


@dataclass(frozen=True)
class Product:
    """An item's Tryton product and the unit its quantities are kept in."""

    id: int
    unit: int
    digits: int  # decimals the unit takes (Tryton refuses a quantity with more)
    symbol: str


@dataclass(frozen=True)
class Ledger:
    """Tryton's ids for what accounting needs (provision.py prepares them; mapping.py names them)."""

    journals: dict[str, int]
    accounts: dict[str, int]  # by code
    payment_method: int
    category: int  # the accounting category products carry


class Tryton:
    """Tryton's records as the connector reads and drives them."""

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
        self._ledger: Ledger | None = None
        self._ready = asyncio.Lock()
        self.categories: dict[int, str] = {}
        self.currency = "EUR"
        self.uid = 0
        self._products: dict[str, Product] = {}
        self.company_party = 0
        self.models: set[str] = set()  # which of OPTIONAL_MODELS this Tryton database has
        # Tryton's reservation (`assign_try`) locks the product's moves at the source NOWAIT: two
        # at once make one fail (and retry, costing Tryton CPU). This process sends one at a time.
        self._reserving = asyncio.Lock()

    async def call(self, model: str, method: str, *args: Any) -> Any:
        for pause in (*BUSY_PAUSES, None):
            try:
                return await self.client.call(model, method, *args)
            except TrytonBusy as exc:
                if pause is None:
                    raise problem_of(exc) from exc
                await asyncio.sleep(pause * (0.5 + random.random()))
            except TrytonError as exc:
                raise problem_of(exc) from exc
        raise AssertionError("unreachable")

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

    async def ledger(self) -> Ledger:
        """The accounting the connector posts with, read once."""
        if self._ledger is None:
            journals = await self.find("account.journal", [], ["code"])
            accounts = await self.find("account.account", [("code", "!=", None)], ["code"])
            methods = await self.call(
                "account.invoice.payment.method",
                "search",
                [("name", "=", mapping.PAYMENT_METHOD)],
                0,
                1,
                None,
            )
            categories = await self.call(
                "product.category",
                "search",
                [("name", "=", mapping.ACCOUNTING_CATEGORY), ("accounting", "=", True)],
                0,
                1,
                None,
            )
            if not (methods and categories and accounts):
                raise ErpUnavailable(
                    "Tryton's accounting is not prepared for the connector (chart of accounts, fiscal "
                    "years, payment method): run `plantbridge tryton-prepare`"
                )
            self._ledger = Ledger(
                journals={j["code"]: j["id"] for j in journals if j["code"]},
                accounts={a["code"]: a["id"] for a in accounts},
                payment_method=int(methods[0]),
                category=int(categories[0]),
            )
        return self._ledger

    async def accounting_category(self) -> int:
        return (await self.ledger()).category

    async def places_for(self, *locations: str | None) -> Places:
        """The mapped locations, refusing (422) a location of ours the map does not name."""
        places = await self.places()
        for place in locations:
            if place is not None and not places.knows(place):
                raise unknown_location(place)
        return places

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
        places.customer = next(r["id"] for r in rows if r["type"] == "customer")
        self.categories = {c["id"]: c["name"] for c in await self.find("product.category", [], ["name"])}
        found = await self.find("ir.model", [("name", "in", list(OPTIONAL_MODELS))], ["name"])
        self.models = {r["name"] for r in found}
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

    async def require(self, model: str, what: str, slug: str) -> None:
        """501 unless this Tryton database has the module that keeps `model` activated."""
        await self.places()
        if model not in self.models:
            raise NotSupported(
                f"{what} need Tryton's {OPTIONAL_MODELS[model]} module, which this Tryton database "
                "has not activated (activate it in Tryton, then restart this service)",
                slug=slug,
            )

    async def product(self, item_id: str) -> tuple[int, int]:
        """Tryton's product id and unit for an item."""
        found = await self._product(item_id)
        return found.id, found.unit

    async def _product(self, item_id: str) -> Product:
        # Kept for the process's life: a product's code and unit never change once it has moves,
        # and Tryton refuses fewer digits for a unit in use (more would be refused here until a
        # restart: a 422 for a quantity Tryton would now take).
        if item_id not in self._products:
            fields = ["default_uom", "default_uom.digits", "default_uom.symbol"]
            found = await self.find("product.product", [("code", "=", item_id)], fields, limit=1)
            if not found:
                raise Unprocessable(f"item {item_id} does not exist", slug="unknown-item")
            unit = found[0]["default_uom."]
            self._products[item_id] = Product(
                int(found[0]["id"]), int(found[0]["default_uom"]), int(unit["digits"]), str(unit["symbol"])
            )
        return self._products[item_id]

    async def in_unit(self, item_id: str, quantity: float, field: str = "quantity") -> float:
        """`quantity` as stock records keep it (`kept_quantity`), refused (422) before anything is
        made when the item's Tryton unit keeps fewer decimals: Tryton would refuse the record
        (its unit `u` takes whole numbers, `kg` two decimals), where the embedded ERP takes three."""
        kept = kept_quantity(quantity, field)
        found = await self._product(item_id)
        if round(kept, found.digits) != kept:
            raise Unprocessable(
                f"{field} {quantity:g}: {item_id} is counted in {found.symbol} in the ERP, which takes "
                f"{found.digits} decimals",
                slug="quantity-too-precise",
            )
        return kept

    async def product_id(self, item_id: str) -> int:
        return (await self.product(item_id))[0]

    async def party_id(self, supplier_id: str) -> int:
        found = await self.call("party.party", "search", [("code", "=", supplier_id)], 0, 1, None)
        if not found:
            raise Unprocessable(f"supplier {supplier_id} does not exist", slug="unknown-supplier")
        return int(found[0])

    async def item(self, item_id: str) -> m.Item:
        await self.places()
        found = await self.find("product.product", [("code", "=", item_id)], ITEM_FIELDS, limit=1)
        if not found:
            raise NotFound(f"item {item_id} does not exist", slug="item-not-found")
        [view] = await self.items(found)
        return view

    async def items(self, products: list[Record]) -> list[m.Item]:
        points = await self.order_points([p["id"] for p in products])
        return [mapping.item(p, self.categories, self.currency, points.get(p["id"])) for p in products]

    async def order_points(self, products: list[int]) -> dict[int, Record]:
        """The purchase order points (stock_supply) of these products at the home warehouse: our
        reorder points. None to read where the database has no stock_supply."""
        if "stock.order_point" not in self.models or not products:
            return {}
        places = await self.places()
        found = await self.find(
            "stock.order_point",
            [("product", "in", products), ("location", "=", places.home()), ("type", "=", "purchase")],
            ["product", "min_quantity", "target_quantity", "create_date", "write_date"],
        )
        return {int(r["product"]): r for r in found}

    def _category(self, name: str) -> int:
        for category_id, category in self.categories.items():
            if category == name:
                return category_id
        raise ErpUnavailable(f"Tryton has no product category {name!r}: prepare the database first")

    async def lot_record_id(self, session: AsyncSession, number: str, product: int, item_id: str) -> int:
        """Tryton's lot with this number, created for the product if there is none. Tryton keeps no
        lot number unique: two commands finding none would each create one (a lot of two items),
        so the number is held until this transaction ends."""
        await serialise(session, f"lot:{number}")
        found = await self.find("stock.lot", [("number", "=", number)], ["product"], limit=1)
        if found:
            if found[0]["product"] != product:
                raise Conflict(f"lot {number} holds another item, not {item_id}", slug="lot-item-mismatch")
            return int(found[0]["id"])
        [created] = await self.call("stock.lot", "create", [{"number": number, "product": product}])
        return int(created)

    async def production_location(self, warehouse: int) -> int:
        [house] = await self.find("stock.location", [("id", "=", warehouse)], ["production_location"])
        if not house["production_location"]:
            raise ErpUnavailable("the Tryton warehouse has no production location")
        return int(house["production_location"])

    async def currency_id(self) -> int:
        return int(
            (await self.call("currency.currency", "search", [("code", "=", self.currency)], 0, 1, None))[0]
        )

    async def finish(self, model: str, document: int, state: str) -> None:
        """Press the document's buttons from `state` until it is done."""
        buttons = BUTTONS[model]
        while state != "done":
            button = buttons.get(state)
            if button is None:
                raise ErpRefused(
                    f"the Tryton {model} is {state}; it cannot be completed", current_state=state
                )
            try:
                if button == "assign_try":
                    async with self._reserving:
                        await self.call(model, button, [document])
                else:
                    await self.call(model, button, [document])
            except ErpRefused:
                if state != "assigned":
                    raise
                # The step after the reservation (`assign_try`) is refused while the reservation
                # left the document waiting: someone took the stock between our check and
                # Tryton's reservation. The state is read only then, so a block is four writes.
                [current] = await self.find(model, [("id", "=", document)], ["state"])
                if current["state"] != "waiting":
                    raise
                await self.call(model, "cancel", [document])
                raise domain.InsufficientStock(
                    "Tryton could not reserve the quantity at the source location; read the lot and retry"
                ) from None
            state = AFTER.get(button, "assigned")

    async def bound(self, session: AsyncSession, kind: str, op: Operation) -> BindingRow | None:
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
        self, model: str, where: list[Any], fields: list[str], q: PageQuery, stamps: tuple[str, ...]
    ) -> list[Record]:
        """Keyset pages over Tryton's record id (creation order; the cursor is the last id seen).
        Not over a number or code: Tryton orders those by length, then text ('9' before '10'),
        while `>` in a domain compares text, so such a cursor lost or repeated records once
        they grew a digit."""
        domain_ = list(where)
        if q.updated_since is not None:
            since = q.updated_since.astimezone().replace(tzinfo=None)
            domain_.append(["OR", *((stamp, ">", since) for stamp in stamps)])
        if q.cursor:
            domain_.append(("id", ">", cursor_record(q.cursor)))
        return await self.find(
            model, domain_, fields, limit=min(q.limit, MAX_LIMIT) + 1, order=[("id", "ASC")]
        )

    async def listed(
        self,
        model: str,
        where: list[Any],
        fields: list[str],
        q: PageQuery,
        views: Callable[[list[Record]], Awaitable[dict[str, V]]],
        *,
        key: str,
        stamps: tuple[str, ...] = STAMPS,
    ) -> Page[V]:
        """A page of the views `views` makes of Tryton's records, found by each record's `key`
        (its number or code). A record it makes none of (filtered on what Tryton has no field
        for) is passed over, reading on until more than a page matches or Tryton has no more, so
        a filtered-out record never hides the next page. After `READS_PER_PAGE` reads the page
        is answered with what matched (perhaps nothing) and a cursor after the last record read,
        so a rare filter over many records keeps each request short: a client reads on while
        there is a `next_cursor`, as with every list."""
        limit = min(q.limit, MAX_LIMIT)
        matching: list[tuple[int, V]] = []
        read = q
        for _ in range(READS_PER_PAGE):
            rows = await self._page(model, where, fields, read, stamps)
            made = await views(rows) if rows else {}
            matching += [(r["id"], made[r[key]]) for r in rows if r[key] in made]
            if len(matching) > limit or len(rows) <= limit:
                break
            read = replace(q, cursor=record_cursor(rows[-1]["id"]))
        else:
            return Page(items=[view for _, view in matching], next_cursor=read.cursor)
        more = len(matching) > limit
        matching = matching[:limit]
        return Page(
            items=[view for _, view in matching],
            next_cursor=record_cursor(matching[-1][0]) if more else None,
        )


def unknown_location(place: str) -> Unprocessable:
    return Unprocessable(
        f"location {place} is not mapped to Tryton locations (ERP_TRYTON_LOCATIONS)", slug="unknown-location"
    )


# A page cursor names the last Tryton record of its page by id, tagged, so that a cursor of
# another shape is refused rather than read as an id: pages once ran on numbers and codes, and
# an all-digit one ("1", an invoice number) would otherwise resume at a record with that id.
_CURSOR_TAG = "tryton-id:"


def record_cursor(tryton_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{tryton_id}".encode()).decode().rstrip("=")


def cursor_record(cursor: str) -> int:
    """The Tryton id a `record_cursor` names; a 422 problem for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid_cursor() from exc
    digits = text.removeprefix(_CURSOR_TAG)
    # ASCII digits only ('²' is a digit to str.isdigit, not to int), and no more than a
    # database integer holds (Tryton fails on those, and would be asked again and again).
    if digits == text or not (digits.isascii() and digits.isdigit()) or int(digits) > DB_INT_MAX:
        raise invalid_cursor()
    return int(digits)


async def bindings_page(
    session: AsyncSession, kind: str, shape: type[Any], q: PageQuery, where: list[Any]
) -> Page[Any]:

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
