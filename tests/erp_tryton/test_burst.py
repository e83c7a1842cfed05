"""A burst of commands on the ERP service in front of Tryton, its own database on SQLite (one
connection, held by a command through its Tryton calls): the commands that find no free
connection in time are answered 503 with Retry-After, never 500, and change nothing; retried as
a flow retries them (same Idempotency-Key), every one is applied once in Tryton."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from plantbridge.processes import ServiceProcess
from plantbridge.tryton import TrytonServer
from tests.integration.test_erp_api import make_po, receive
from tests.support.fixtures import Launch
from tests.support.http import client
from tests.support.tryton import Rpc, erp_settings

SCOPES = ["erp:read", "erp:write"]
BURST = 12


@pytest.fixture(scope="module")
def erp(launch: Launch, database_url, tryton: TrytonServer) -> Iterator[ServiceProcess]:
    process = launch(
        "erp",
        database_url=database_url("sqlite", "erp_burst"),
        database_pool_timeout_seconds="1",  # a burst of blocks (~0.3-1 s each in Tryton) outlasts it
        **erp_settings(tryton),
    )
    yield process
    process.stop()


def lots(http: httpx.Client, count: int) -> list[str]:
    po_id, _item = make_po(http, quantity=10 * count)
    received = [receive(http, po_id, 10) for _ in range(count)]
    assert {r.status_code for r in received} == {201}
    return [r.json()["lot_id"] for r in received]


def test_a_burst_is_answered_201_or_503_never_500_and_the_retries_apply_each_once(erp, admin: Rpc) -> None:
    with client(erp, scopes=SCOPES, timeout=120) as http:
        blocked = lots(http, BURST)

        def block(lot_id: str) -> httpx.Response:
            return http.post(
                "/erp/v1/inventory-transactions",
                json={"type": "block", "lot_id": lot_id, "quantity": 10, "location": "WH1"},
                headers={"Idempotency-Key": f"burst-{lot_id}"},
            )

        with ThreadPoolExecutor(BURST) as pool:
            answers = dict(zip(blocked, pool.map(block, blocked), strict=True))
        statuses = sorted(a.status_code for a in answers.values())
        assert set(statuses) <= {201, 503}, statuses
        assert 503 in statuses, f"the burst never found the pool exhausted: {statuses}"
        for answer in answers.values():
            if answer.status_code == 503:
                assert answer.json()["type"] == "urn:plantbridge:problem:database-busy"
                assert int(answer.headers["retry-after"]) > 0

        retried = {lot_id: block(lot_id) for lot_id, answer in answers.items() if answer.status_code == 503}
        assert {r.status_code for r in retried.values()} == {201}, [r.text for r in retried.values()]
        for lot_id in blocked:
            assert http.get(f"/erp/v1/lots/{lot_id}").json()["balances"] == [
                {"location": "WH1", "status": "BLOCKED", "quantity": 10.0}
            ]
    moves = admin(
        "stock.move",
        "search_read",
        [("lot.number", "in", blocked), ("to_location.code", "=", "WH1-BLK"), ("state", "!=", "cancelled")],
        0,
        None,
        None,
        ["lot.number"],
    )
    assert sorted(mv["lot."]["number"] for mv in moves) == sorted(blocked)  # one block each
