"""contracts/kit/wire/projection.py: a record read from one API answered in another's shape."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum

import msgspec
import pytest

from contracts.kit.wire import Input, Output
from contracts.kit.wire.projection import project


class Status(Enum):
    OPEN = "open"


class Upstream(msgspec.Struct, kw_only=True):
    case_id: str
    status: Status
    opened_at: datetime
    due: date | None
    supplier_id: str  # not the target's business
    internal_note: str


class Shown(Output, kw_only=True):
    case_id: str
    status: str
    opened_at: datetime
    due: date | None
    awaiting: bool


class Sent(Input, kw_only=True):  # refuses unknown fields
    case_id: str
    status: str


RECORD = Upstream(
    case_id="C-1",
    status=Status.OPEN,
    opened_at=datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
    due=date(2026, 4, 1),
    supplier_id="S-9",
    internal_note="do not show",
)


def test_the_target_gets_its_own_fields_with_enums_as_values_and_times_intact() -> None:
    shown = project(RECORD, Shown, awaiting=True)
    assert shown == Shown(
        case_id="C-1", status="open", opened_at=RECORD.opened_at, due=date(2026, 4, 1), awaiting=True
    )
    assert "internal_note" not in msgspec.json.decode(msgspec.json.encode(shown))


def test_given_fields_replace_the_records() -> None:
    assert project(RECORD, Shown, awaiting=False, status="closed").status == "closed"


def test_a_target_that_refuses_unknown_fields_is_given_only_its_own() -> None:
    assert project(RECORD, Sent) == Sent(case_id="C-1", status="open")


def test_a_field_the_record_lacks_and_nobody_gives_is_an_error_not_a_guess() -> None:
    with pytest.raises(msgspec.ValidationError, match="awaiting"):
        project(RECORD, Shown)
