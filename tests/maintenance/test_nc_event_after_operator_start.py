"""The other order of test_started_again's nonconformance case: an operator starts maintenance for
a critical NC before the NC's own event reaches the process. The event then starts no second flow
(which would raise a second maintenance request); a redelivery of an event that did start its
flow still finds that flow. In process (QMS and the maintenance process over real SQLite files and
Redis): the event is handed to the handler directly, as its consumer would, so the order is sure."""

from __future__ import annotations

import uuid
from typing import Any

from contracts.events.qms import NcLinks, NonconformanceOpened
from contracts.kit.app import runtime_of
from contracts.kit.paging import utcnow
from process_apis.maintenance import starts
from process_apis.maintenance.rules import NonconformanceRules
from tests.support.fixtures import DatabaseUrl, Serve
from tests.support.http import client
from tests.support.inprocess import InProcess, outbound_to


def opened(nc_id: str) -> NonconformanceOpened:
    return NonconformanceOpened(
        nc_id=nc_id,
        title="spindle vibration",
        severity="critical",
        status="open",
        defect_codes=[],
        links=NcLinks(equipment_id="CNC-7"),
    )


def deliver(maintenance: InProcess, event: NonconformanceOpened, event_id: str) -> str | None:
    """What the consumer does with the event: the handler in one transaction."""

    async def handle() -> str | None:
        async with runtime_of(maintenance.app).db.transaction() as session:
            return await starts.nonconformance_opened(
                session, NonconformanceRules(), event, utcnow(), event_id
            )

    test_client: Any = maintenance._test_client
    found: str | None = test_client.blocking_portal.call(handle)
    return found


def test_a_critical_ncs_event_after_an_operators_start_starts_no_second_flow(
    in_process: Serve, database_url: DatabaseUrl
) -> None:
    # QMS knows neither NC, so the flows stall at their first step: what they started is the point.
    qms = in_process("qms", database_url=database_url("sqlite", "nc_after_qms"))
    maintenance = in_process(
        "maintenance",
        database_url=database_url("sqlite", "nc_after_mnt"),
        outbound=outbound_to("maintenance", {"qms": qms}),
    )
    http = client(maintenance, scopes=["maintenance:read", "maintenance:write"])
    by_hand, by_event = (f"NC-{uuid.uuid4().hex[:8].upper()}" for _ in range(2))

    started = http.post("/maintenance/v1/flows/nc-maintenance", json={"nc_ids": [by_hand]})
    assert started.status_code == 201, started.text
    assert deliver(maintenance, opened(by_hand), f"evt-{by_hand}") == started.json()["flow_id"]

    # An NC whose event came first: its redelivery answers with the flow it started, nothing new.
    first = deliver(maintenance, opened(by_event), f"evt-{by_event}")
    assert deliver(maintenance, opened(by_event), f"evt-{by_event}") == first

    def flows(nc_id: str) -> list[str]:
        answer = http.get("/maintenance/v1/flows", params={"nonconformance_id": nc_id})
        assert answer.status_code == 200, answer.text
        return [f["flow_id"] for f in answer.json()["items"]]

    assert flows(by_hand) == [started.json()["flow_id"]]
    assert flows(by_event) == [first]
