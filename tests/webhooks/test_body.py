"""The body a receiver gets, to the byte: receivers verify the signature over these exact bytes and
may parse them by position, so field order and formats are part of the interface."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import msgspec

from connectors.webhooks.fanout import body_of
from contracts.events import qms
from contracts.kit.envelope import CloudEvent


class _Received(msgspec.Struct, kw_only=True):
    quantity: Decimal
    received_at: datetime
    lines: list[str]
    note: str | None = None


def _event(data: object, time: datetime, correlationid: str = "") -> CloudEvent:
    return CloudEvent(
        id="evt-1",
        source="/qms",
        type="qms.inspection_lot.created.v1",
        subject="IL-1",
        time=time,
        data=data,
        correlationid=correlationid,
        causationid="not-sent",
        traceparent="not-sent",
    )


def test_a_catalogued_event_becomes_the_standard_webhooks_body_with_the_cloudevent_ids() -> None:
    lot = qms.InspectionLotCreated(
        inspection_lot_id="IL-1",
        origin="goods_receipt",
        item_id="ITEM-1",
        lot_id="LOT-1",
        sample_size=5,
        characteristics=["bore", "finish"],
        due_date=date(2026, 12, 9),
    )
    moment = datetime(2026, 12, 7, 9, 30, 1, 123456, tzinfo=UTC)
    assert body_of(_event(lot, moment, "corr-1")) == (
        b'{"type":"qms.inspection_lot.created.v1","timestamp":"2026-12-07T09:30:01.123456Z",'
        b'"data":{"inspection_lot_id":"IL-1","origin":"goods_receipt","item_id":"ITEM-1",'
        b'"lot_id":"LOT-1","sample_size":5,"characteristics":["bore","finish"],"source_ref":null,'
        b'"supplier_id":null,"due_date":"2026-12-09"},"id":"evt-1","subject":"IL-1","source":"/qms",'
        b'"correlationid":"corr-1"}'
    )


def test_decimals_offsets_and_an_empty_correlation_id_keep_their_form() -> None:
    offset = timezone(timedelta(hours=2))
    data = _Received(
        quantity=Decimal("12.500"),
        received_at=datetime(2026, 12, 7, 11, 0, tzinfo=offset),
        lines=[],
    )
    assert body_of(_event(data, datetime(2026, 12, 7, 11, 0, 0, tzinfo=offset))) == (
        b'{"type":"qms.inspection_lot.created.v1","timestamp":"2026-12-07T11:00:00+02:00",'
        b'"data":{"quantity":"12.500","received_at":"2026-12-07T11:00:00+02:00","lines":[],'
        b'"note":null},"id":"evt-1","subject":"IL-1","source":"/qms","correlationid":""}'
    )
    assert body_of(_event({"k": [1, 2.5, None]}, datetime(2026, 12, 7, tzinfo=UTC))) == (
        b'{"type":"qms.inspection_lot.created.v1","timestamp":"2026-12-07T00:00:00Z",'
        b'"data":{"k":[1,2.5,null]},"id":"evt-1","subject":"IL-1","source":"/qms","correlationid":""}'
    )
