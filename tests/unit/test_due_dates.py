"""When a due date is over (the operations monitors' overdue checks): at the end of its day, UTC;
never for the calendar's last day, which a system may have stored and which has no next day."""

from __future__ import annotations

from datetime import UTC, date, datetime

from experience_apis.operations.monitors.base import end_of


def test_a_due_date_is_met_until_its_day_is_over() -> None:
    assert end_of(date(2026, 12, 7)) == datetime(2026, 12, 8, tzinfo=UTC)
    assert end_of(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_the_last_day_of_the_calendar_is_never_over() -> None:
    assert end_of(date.max) > datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
