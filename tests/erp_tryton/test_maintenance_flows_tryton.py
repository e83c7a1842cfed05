"""The maintenance process's spares flow end to end with the ERP API in front of a real Tryton:
spare parts issued to maintenance orders in Tryton (done productions), the reorder point kept as
Tryton's order point, and ONE purchase requisition raised in Tryton when the stock falls under it.
Gateway, ERP (ERP_BACKEND=tryton), QMS, CMMS, MES, xref and the maintenance process run as
processes on loopback; what Tryton holds is read through Tryton's own RPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from plantbridge.tryton import TrytonServer
from tests.erp_tryton.conftest import MakeTryton
from tests.maintenance.conftest import Plant, new_tag, ok, start_plant
from tests.maintenance.test_spares import checks_done, issue, requisitions
from tests.support.platform import Platform
from tests.support.tryton import Rpc, erp_settings
from tests.support.wait import eventually

pytestmark = pytest.mark.e2e
STORES = json.dumps(
    {
        p: {"unrestricted": p, "quality_inspection": f"{p}-QI", "blocked": f"{p}-BLK"}
        for p in ("WH-SPARES", "WH-RAW")
    }
)


@pytest.fixture(scope="module")
def tryton_stores(make_tryton: MakeTryton) -> TrytonServer:
    server = make_tryton()
    server.prepare(STORES)  # the stores the maintenance tests use, beside the tests' usual ones
    return server


@pytest.fixture(scope="module")
def plant(
    launch: Any, database_url: Any, redis_server: Any, tryton_stores: TrytonServer, tmp_path_factory: Any
) -> Iterator[Plant]:
    platform = Platform(launch, database_url, "sqlite", "mnt_tryton", redis_server.url)
    erp = {**erp_settings(tryton_stores), "tryton_locations": STORES}
    plant = start_plant(platform, tmp_path_factory.mktemp("rules"), **erp)
    yield plant
    plant.close()
    platform.stop()


@pytest.fixture(scope="module")
def tryton_admin(tryton_stores: TrytonServer) -> Iterator[Rpc]:
    rpc = Rpc(tryton_stores, "admin", "admin")
    yield rpc
    rpc.close()


def test_consumptions_under_the_reorder_point_raise_one_requisition_in_tryton(
    plant: Plant, tryton_admin: Rpc
) -> None:
    tag = new_tag()
    spare = plant.spare(tag, stock=8, reorder_point=5)
    [point] = tryton_admin(
        "stock.order_point",
        "search_read",
        [("product.code", "=", spare["item_id"])],
        0,
        None,
        None,
        ["min_quantity"],
    )
    assert point["min_quantity"] == 5.0
    issue(plant, spare, 2, f"WO-{tag}-1")  # 6 left: above the reorder point
    checks_done(plant, spare["item_id"], 1)
    assert requisitions(plant, spare["item_id"]) == []

    for n in (2, 3, 4):  # 4, 3, 2 left: each under the reorder point
        issue(plant, spare, 1, f"WO-{tag}-{n}")
    checks_done(plant, spare["item_id"], 4)
    [raised] = requisitions(plant, spare["item_id"])
    assert (raised["status"], raised["requested_by"]) == ("open", "maintenance-process")
    in_tryton = tryton_admin(
        "purchase.requisition.line",
        "search_read",
        [("product.code", "=", spare["item_id"])],
        0,
        None,
        None,
        ["quantity", "requisition.state", "requisition.number"],
    )
    assert [(r["requisition."]["number"], r["requisition."]["state"], r["quantity"]) for r in in_tryton] == [
        (raised["requisition_id"], "waiting", raised["quantity"])
    ]
    issued = tryton_admin(
        "stock.move",
        "search_read",
        [("lot.number", "=", spare["lot_id"]), ("production_input", "!=", None), ("state", "=", "done")],
        0,
        None,
        None,
        ["quantity"],
    )
    assert sorted(mv["quantity"] for mv in issued) == [1.0, 1.0, 1.0, 2.0]  # each issue once

    # Ordered (approved in Tryton: a purchase request for purchasing), the next one raises anew.
    ok(plant.erp.post(f"/erp/v1/purchase-requisitions/{raised['requisition_id']}/order", json={}))
    assert tryton_admin(
        "purchase.request", "search", [("product.code", "=", spare["item_id"])], 0, None, None
    )
    issue(plant, spare, 1, f"WO-{tag}-5")
    eventually(lambda: len(requisitions(plant, spare["item_id"])) == 2)
