"""A supplier's subscription never receives another supplier's event: tried for every event
type of the catalogue that carries a supplier, with the supplier portal's rule for what a
supplier may see (its own inspections; its own cases once issued, never a draft)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from contracts.asyncapi import load_catalogue
from tests.support.wait import eventually
from tests.webhooks.conftest import Webhooks, sample
from tests.webhooks.receiver import Receiver

SUPPLIERS = ("SUP-A", "SUP-B")


def _carries_supplier(cls: type[msgspec.Struct]) -> bool:
    names = {f.name for f in msgspec.structs.fields(cls)}
    return "supplier_id" in names or "links" in names


CARRYING = sorted(name for name, t in load_catalogue().items() if _carries_supplier(t.data))


def _data(event_type: str, supplier: str, **fixed: Any) -> Any:
    cls = load_catalogue()[event_type].data
    names = {f.name for f in msgspec.structs.fields(cls)}
    if "links" in names:
        links_type = next(f.type for f in msgspec.structs.fields(cls) if f.name == "links")
        fixed["links"] = sample(links_type, supplier_id=supplier)
    else:
        fixed["supplier_id"] = supplier
    if "to_status" in names:
        fixed.setdefault("to_status", "issued")
    return sample(cls, **fixed)


@pytest.fixture(scope="module")
def service(start_webhooks) -> Webhooks:
    return start_webhooks("sqlite")


def test_the_catalogue_has_supplier_events_to_try() -> None:
    assert "qms.supplier_case.status_changed.v1" in CARRYING
    assert "erp.goods_receipt.posted.v1" in CARRYING
    assert len(CARRYING) >= 10


def test_a_supplier_subscription_gets_only_its_own_records_events(
    service: Webhooks, receiver: Receiver
) -> None:
    with service.api(("webhooks:subscribe",), client_id="portal-a", supplier_id="SUP-A") as supplier_api:
        offered = {t["name"] for t in supplier_api.get("/webhooks/v1/event-types").json()["event_types"]}
        # Types the portal does not show a supplier cannot be subscribed to at all.
        for event_type in CARRYING:
            if event_type not in offered:
                refused = supplier_api.post(
                    "/webhooks/v1/subscriptions", json={"url": receiver.url("a"), "event_types": [event_type]}
                )
                assert refused.status_code == 403, event_type
                assert refused.json()["type"] == "urn:plantbridge:problem:event-type-not-readable"
        supplier_sub = service.subscribe(supplier_api, receiver.url("a"), sorted(offered))
    assert offered == {
        "qms.inspection_lot.created.v1",
        "qms.inspection_lot.status_changed.v1",
        "qms.inspection.results_recorded.v1",
        "qms.usage_decision.made.v1",
        "qms.supplier_case.opened.v1",
        "qms.supplier_case.status_changed.v1",
    }
    with service.api(client_id="plant-analytics") as partner_api:  # sees everything it may read
        everything = service.subscribe(partner_api, receiver.url("all"), CARRYING)
    receiver.endpoint("a").secrets = [supplier_sub["secret"]]
    receiver.endpoint("all").secrets = [everything["secret"]]

    published: dict[str, tuple[str, str]] = {}  # event id -> (type, supplier)
    for event_type in CARRYING:
        for supplier in SUPPLIERS:
            published[service.publish(event_type, _data(event_type, supplier))] = (event_type, supplier)
    draft = service.publish(
        "qms.supplier_case.opened.v1", _data("qms.supplier_case.opened.v1", "SUP-A", status="open")
    )
    published[draft] = ("qms.supplier_case.opened.v1", "SUP-A")

    # The partner's subscription gets every event: once it has, the supplier's has had its chance.
    eventually(lambda: len(receiver.accepted("all")) >= len(published), what="every event at the partner")
    got = {d.webhook_id for d in receiver.accepted("a")}
    wanted = {
        event_id
        for event_id, (event_type, supplier) in published.items()
        if supplier == "SUP-A" and event_type in offered and event_id != draft
    }
    assert got == wanted
    assert not {published[i][1] for i in got} - {"SUP-A"}
    for delivery in receiver.accepted("a"):  # and no payload names another supplier
        assert b"SUP-B" not in delivery.body
