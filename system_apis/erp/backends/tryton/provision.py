"""Prepare a Tryton database for the connector, through Tryton's RPC, as an administrator would
in Tryton's client; every step looks before it creates, so running it again changes nothing.

What it sets up: a currency and a company (a fresh database has neither), an employee for the
connector's user (purchase requisitions are raised by one), party codes given by
us rather than a sequence (our supplier ids are the party codes), the product categories that
carry our item type and inspection flag, and the locations named in the location map (the
unrestricted one under the warehouse's storage zone, quality inspection and blocked beside it,
so neither counts as available storage stock).
"""

from __future__ import annotations

from typing import Any

from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.client import TrytonClient
from system_apis.erp.backends.tryton.settings import LocationMap


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
    await _ensure_company(client, company_name, currency_id)
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


async def _ensure_company(client: TrytonClient, name: str, currency_id: int) -> None:
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
    from decimal import Decimal

    return Decimal(text)
