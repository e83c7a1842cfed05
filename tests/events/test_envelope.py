"""Envelopes come back from the wire as they went in, whatever fields CloudEvent grows."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from contracts.events.erp import GoodsReceiptPosted
from contracts.kit.envelope import CloudEvent, decode, encode
from tests.events.support import receipt


def test_every_envelope_field_survives_encode_and_decode() -> None:
    # Every field gets a value of its own that is not its default, so a field the decoder
    # forgets to copy shows up here.
    values: dict[str, object] = {
        name: f"{name}-value" for name in CloudEvent.__struct_fields__ if name not in ("time", "data")
    }
    values["type"] = "erp.goods_receipt.posted.v1"  # a registered type: its data decodes typed
    event = CloudEvent(**values, time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), data=receipt("LOT-E"))  # type: ignore[arg-type]

    back = decode(encode(event))

    assert back == event
    assert type(back) is CloudEvent
    assert isinstance(back.data, GoodsReceiptPosted)


def test_data_of_an_unknown_type_decodes_to_plain_values() -> None:
    event = _event("other.thing.happened.v1", {"lot": "LOT-1", "count": 2})
    assert decode(encode(event)).data == {"lot": "LOT-1", "count": 2}


def test_data_that_does_not_fit_its_registered_type_is_refused() -> None:
    event = _event("erp.goods_receipt.posted.v1", {"lot_id": 7})
    with pytest.raises(msgspec.ValidationError):
        decode(encode(event))


def _event(event_type: str, data: object) -> CloudEvent:
    return CloudEvent(
        id="E-1",
        source="test",
        type=event_type,
        subject="S-1",
        time=datetime(2026, 1, 2, tzinfo=UTC),
        data=data,
    )
