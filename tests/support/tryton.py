"""Talking to a real Tryton in tests: the location map the tests use, the ERP settings that put
the ERP API in front of a server, and Tryton's JSON-RPC as Tryton's own client sends it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from plantbridge.tryton import TrytonServer
from system_apis.erp.backends.tryton.client import TrytonClient

# Our locations the tests use, each with its unrestricted, quality-inspection and blocked location.
PLACES = ("WH1", "WH2", "FG1")
LOCATIONS = json.dumps(
    {p: {"unrestricted": p, "quality_inspection": f"{p}-QI", "blocked": f"{p}-BLK"} for p in PLACES}
)


def erp_settings(server: TrytonServer) -> dict[str, str]:
    """`launch("erp", **erp_settings(server))`: the ERP API in front of this Tryton."""
    return {k.removeprefix("ERP_").lower(): v for k, v in server.erp_env(LOCATIONS).items()}


class Rpc:
    """Tryton's JSON-RPC for one user, from synchronous tests (a person in Tryton's client)."""

    def __init__(self, server: TrytonServer, user: str, password: str) -> None:
        self.client = TrytonClient(server.url, server.database, user, password)
        self.loop = asyncio.new_event_loop()

    def __call__(self, model: str, method: str, *args: Any) -> Any:
        return self.loop.run_until_complete(self.client.call(model, method, *args))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


def add_user(admin: Rpc, login: str, password: str, *, every_group: bool = True) -> None:
    """A Tryton user of the test's company (with every group: a warehouse or purchasing clerk)."""
    [company] = admin("company.company", "search", [], 0, 1, None)
    groups = admin("res.group", "search", [], 0, None, None) if every_group else []
    admin(
        "res.user",
        "create",
        [
            {
                "name": login,
                "login": login,
                "password": password,
                "groups": [("add", groups)],
                "companies": [("add", [company])],
                "company": company,
            }
        ],
    )
