"""Prepare a Tryton database for the connector, through Tryton's RPC, as an administrator would
in Tryton's client; every step looks before it creates, so running it again changes nothing.

What it sets up: a currency and a company (a fresh database has neither), an employee for the
connector's user (purchase requisitions are raised by one), party codes given by
us rather than a sequence (our supplier ids are the party codes), the product categories that
carry our item type and inspection flag, and the locations named in the location map (the
unrestricted one under the warehouse's storage zone, quality inspection and blocked beside it,
so neither counts as available storage stock), and accounting: Tryton's own Universal Chart of
Accounts through its chart wizard (as an accountant would), fiscal years for this year and the next
with their move and invoice sequences, the payment method supplier invoices are paid with, and the
accounting category products carry (mapping.py names what the connector uses).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.client import TrytonClient, Wizard
from system_apis.erp.backends.tryton.settings import LocationMap

CHART = "Universal Chart of Accounts"  # Tryton's own English chart (module account)


async def prepare(
    client: TrytonClient,
    locations: LocationMap,
    *,
    company_name: str = "Plantbridge plant",
    currency: str = "EUR",
    warehouse: str = "WH",
) -> None:
    currency_id = await _ensure(
        client,
        "currency.currency",
        [("code", "=", currency)],
        {"name": currency, "code": currency, "symbol": currency, "rounding": _decimal("0.01"), "digits": 2},
    )
    company = await _ensure_company(client, company_name, currency_id)
    await prepare_accounting(client, company)
    await _ensure_employee(client)
    config = await client.call("party.configuration", "search", [], 0, 1, None)
    if config:
        await client.call("party.configuration", "write", config, {"party_sequence": None})
    for name in mapping.CATEGORIES:
        await _ensure(client, "product.category", [("name", "=", name)], {"name": name})
    house = await _one(client, "stock.location", [("code", "=", warehouse), ("type", "=", "warehouse")])
    [storage] = await client.call("stock.location", "read", [house], ["storage_location"])
    for statuses in locations.values():
        for status, code in statuses.by_status().items():
            parent = storage["storage_location"] if status is mapping.UNR else house
            await _ensure(
                client,
                "stock.location",
                [("code", "=", code)],
                {"name": code, "code": code, "type": "storage", "parent": parent},
            )


async def prepare_accounting(client: TrytonClient, company: int) -> None:
    if not await client.call("account.account", "search", [("company", "=", company)], 0, 1, None):
        await _create_chart(client, company)
    accounts = {
        a["code"]: a["id"]
        for a in await client.call(
            "account.account", "search_read", [("company", "=", company)], 0, None, None, ["code"]
        )
    }
    today = dt.date.today()
    for year in (today.year, today.year + 1):
        await _ensure_fiscal_year(client, company, year)
    [cash] = await client.call("account.journal", "search", [("code", "=", mapping.CASH_JOURNAL)], 0, 1, None)
    await _ensure(
        client,
        "account.invoice.payment.method",
        [("name", "=", mapping.PAYMENT_METHOD), ("company", "=", company)],
        {
            "name": mapping.PAYMENT_METHOD,
            "company": company,
            "journal": cash,
            "credit_account": accounts[mapping.CASH],
            "debit_account": accounts[mapping.CASH],
        },
    )
    await _ensure(
        client,
        "product.category",
        [("name", "=", mapping.ACCOUNTING_CATEGORY), ("accounting", "=", True)],
        {
            "name": mapping.ACCOUNTING_CATEGORY,
            "accounting": True,
            "account_expense": accounts[mapping.PURCHASE_EXPENSE],
            "account_revenue": accounts[mapping.REVENUE],
        },
    )


async def _create_chart(client: TrytonClient, company: int) -> None:
    [template] = await client.call(
        "account.account.template",
        "search",
        [("parent", "=", None), ("name", "=", CHART)],
        0,
        1,
        None,
    )
    chart = Wizard(client, "account.create_chart")
    await chart.open()
    await chart.press("account")
    await chart.press("create_account", {"company": company, "account_template": template})
    payable, receivable = [
        await client.call(
            "account.account", "search", [("code", "=", code), ("company", "=", company)], 0, 1, None
        )
        for code in (mapping.PAYABLE, mapping.RECEIVABLE)
    ]
    await chart.press(
        "create_properties", {"account_payable": payable[0], "account_receivable": receivable[0]}
    )
    await chart.close()


async def _ensure_fiscal_year(client: TrytonClient, company: int, year: int) -> None:
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    found = await client.call(
        "account.fiscalyear",
        "search",
        [("company", "=", company), ("start_date", "<=", end), ("end_date", ">=", start)],
        0,
        1,
        None,
    )
    if found:
        return
    sequence_types = {}
    for name in ("Account Move", "Invoice"):
        [sequence_types[name]] = await client.call(
            "ir.sequence.type", "search", [("name", "=", name)], 0, 1, None
        )
    moves, invoices = await client.call(
        "ir.sequence.strict",
        "create",
        [
            {"name": f"{year} moves", "sequence_type": sequence_types["Account Move"], "company": company},
            {"name": f"{year} invoices", "sequence_type": sequence_types["Invoice"], "company": company},
        ],
    )
    invoice_sequences = {
        f"{kind}_{document}_sequence": invoices
        for kind in ("in", "out")
        for document in ("invoice", "credit_note")
    }
    [fiscal_year] = await client.call(
        "account.fiscalyear",
        "create",
        [
            {
                "name": str(year),
                "start_date": start,
                "end_date": end,
                "company": company,
                "move_sequence": moves,
                "invoice_sequences": [("create", [{"company": company, **invoice_sequences}])],
            }
        ],
    )
    await client.call("account.fiscalyear", "create_period", [fiscal_year])


async def _ensure_company(client: TrytonClient, name: str, currency_id: int) -> int:
    companies = await client.call("company.company", "search", [], 0, 1, None)
    if companies:
        company = companies[0]
    else:
        party = await _ensure(client, "party.party", [("name", "=", name)], {"name": name})
        [company] = await client.call(
            "company.company", "create", [{"party": party, "currency": currency_id}]
        )
    [user] = await client.call("res.user", "search", [("login", "=", client.user)], 0, 1, None)
    await client.call("res.user", "write", [user], {"companies": [("add", [company])], "company": company})
    client.context["company"] = company
    client.context["companies"] = [company]
    return int(company)


async def _ensure_employee(client: TrytonClient) -> None:
    """Tryton's purchase requisitions are raised by an employee: the connector's user is one."""
    [user] = await client.call(
        "res.user", "search_read", [("login", "=", client.user)], 0, 1, None, ["employee"]
    )
    if user["employee"]:
        return
    company = client.context["company"]
    [party] = await client.call("company.company", "read", [company], ["party"])
    [employee] = await client.call(
        "company.employee", "create", [{"party": party["party"], "company": company}]
    )
    await client.call(
        "res.user", "write", [user["id"]], {"employees": [("add", [employee])], "employee": employee}
    )
    client.context["employee"] = employee


async def _ensure(client: TrytonClient, model: str, domain: list[Any], values: dict[str, Any]) -> int:
    found = await client.call(model, "search", domain, 0, 1, None)
    if found:
        return int(found[0])
    [created] = await client.call(model, "create", [values])
    return int(created)


async def _one(client: TrytonClient, model: str, domain: list[Any]) -> int:
    found = await client.call(model, "search", domain, 0, 2, None)
    if len(found) != 1:
        raise LookupError(f"expected one {model} matching {domain}, found {len(found)}")
    return int(found[0])


def _decimal(text: str) -> Any:
    return Decimal(text)
