"""Holds that hold end to end through the gateway with the ERP API in front of a real Tryton
(tests/e2e/test_holds.py runs the same scenario on the embedded ERP), and what Tryton itself
holds: the invoice's payment block on its lines to pay, the note on the flagged purchase."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from plantbridge.tryton import TrytonServer
from tests.e2e.test_holds import blocked_lot_scenario, plant_client, routed_platform
from tests.support.platform import Platform
from tests.support.tryton import Rpc, erp_settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(launch, database_url, redis_server, tryton: TrytonServer) -> Iterator[Platform]:
    p = routed_platform(
        Platform(launch, database_url, "sqlite", "holds_tryton", redis_server.url), **erp_settings(tryton)
    )
    yield p
    p.stop()


@pytest.fixture(scope="module")
def plant(platform: Platform) -> Iterator[httpx.Client]:
    with plant_client(platform) as http:
        yield http


def test_a_blocked_lot_is_neither_paid_nor_shipped_until_quality_releases_it(
    platform: Platform, plant: httpx.Client, admin: Rpc
) -> None:
    blocked_lot_scenario(platform, plant)
    # Tryton holds the outcome: the invoice paid (so unblocked), the alerts as notes on purchases.
    notes = admin(
        "ir.note", "search_read", [("message", "like", "Quality alert%")], 0, None, None, ["resource"]
    )
    assert len({n["resource"] for n in notes}) == 2
    [invoice] = admin(
        "account.invoice", "search_read", [("type", "=", "in")], 0, None, None, ["state", "lines_to_pay"]
    )
    assert invoice["state"] == "paid"
    lines = admin("account.move.line", "read", invoice["lines_to_pay"], ["payment_blocked"])
    assert not any(line["payment_blocked"] for line in lines)
