"""Validity and overlap rules of the cross-reference registry, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts.kit.problems import Conflict, Unprocessable
from system_apis.xref import domain
from system_apis.xref.domain import Claim, Validity


def t(day: int, month: int = 1, year: int = 2025) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def claim(
    system_id: str = "ASSET-4711",
    canonical_id: str = "EQ-POS-1",
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    system: str = "cmms",
    kind: str = "equipment",
    mapping_id: str = "NEW",
) -> Claim:
    return Claim(mapping_id, kind, canonical_id, system, system_id, Validity(start, end))


# --- periods ----------------------------------------------------------------------------------
def test_a_period_includes_its_start_and_excludes_its_end() -> None:
    period = Validity(t(1), t(10))
    assert period.contains(t(1))
    assert period.contains(t(10) - timedelta(microseconds=1))
    assert not period.contains(t(10))
    assert not period.contains(t(1) - timedelta(microseconds=1))


def test_open_ends_reach_forever() -> None:
    assert Validity(None, None).contains(datetime(1900, 1, 1, tzinfo=UTC))
    assert Validity(t(1), None).contains(datetime(2999, 1, 1, tzinfo=UTC))
    assert Validity(None, t(1)).contains(datetime(1900, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (Validity(t(1), t(10)), Validity(t(10), t(20)), False),  # touching: a hand-over, not a clash
        (Validity(t(1), t(10)), Validity(t(9), t(20)), True),
        (Validity(t(1), t(10)), Validity(t(2), t(3)), True),  # contained
        (Validity(t(1), None), Validity(t(20), t(30)), True),  # open end reaches later periods
        (Validity(None, t(10)), Validity(t(10), None), False),
        (Validity(None, None), Validity(t(5), t(6)), True),
        (Validity(t(5), t(6)), Validity(t(7), t(8)), False),
    ],
)
def test_half_open_periods_overlap_only_when_they_share_an_instant(
    a: Validity, b: Validity, overlap: bool
) -> None:
    assert a.overlaps(b) is overlap
    assert b.overlaps(a) is overlap  # symmetric


def test_a_period_is_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    period = domain.validity(datetime(2025, 3, 1, 1, 0, tzinfo=cet), None)
    assert period.start == t(1, 3)
    assert period.start is not None
    assert period.start.tzinfo == UTC


@pytest.mark.parametrize(("start", "end"), [(t(10), t(10)), (t(10), t(9))])
def test_an_empty_or_inverted_period_is_refused(start: datetime, end: datetime) -> None:
    with pytest.raises(Unprocessable) as refused:
        domain.validity(start, end)
    assert refused.value.slug == "empty-validity"


def test_an_instant_outside_the_supported_years_is_refused_not_overflowed() -> None:
    with pytest.raises(Unprocessable) as refused:
        domain.validity(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), None)
    assert refused.value.slug == "invalid-date-time"


# --- the two uniqueness rules ---------------------------------------------------------------
def conflict_slug(new: Claim, existing: list[Claim]) -> str:
    with pytest.raises(Conflict) as refused:
        domain.check_claim(new, existing)
    return refused.value.slug


def test_a_system_id_cannot_name_two_things_at_once() -> None:
    taken = claim(canonical_id="EQ-POS-1", start=t(1), mapping_id="MAP-1")
    assert conflict_slug(claim(canonical_id="EQ-POS-2", start=t(5)), [taken]) == "system-id-taken"


def test_a_thing_cannot_have_two_ids_in_one_system_at_once() -> None:
    mapped = claim(system_id="ASSET-4711", start=t(1), mapping_id="MAP-1")
    assert conflict_slug(claim(system_id="ASSET-5000", start=t(5)), [mapped]) == "canonical-already-mapped"


def test_registering_the_same_mapping_twice_over_an_overlap_is_a_conflict() -> None:
    mapped = claim(start=t(1), end=t(10), mapping_id="MAP-1")
    assert conflict_slug(claim(start=t(9)), [mapped]) == "mapping-exists"


def test_the_conflict_names_the_mapping_in_the_way() -> None:
    taken = claim(canonical_id="EQ-POS-1", start=t(1), mapping_id="MAP-1")
    with pytest.raises(Conflict) as refused:
        domain.check_claim(claim(canonical_id="EQ-POS-2"), [taken])
    assert refused.value.extensions["conflicting_mapping_id"] == "MAP-1"
    assert refused.value.extensions["conflicting_canonical_id"] == "EQ-POS-1"
    assert refused.value.extensions["conflicting_valid_from"] == t(1).isoformat()
    assert refused.value.extensions["conflicting_valid_to"] is None


def test_a_rebuilt_motor_moves_to_another_position_once_its_old_mapping_ends() -> None:
    old = claim(canonical_id="EQ-POS-1", start=t(1, 1, 2024), end=t(1, 3), mapping_id="MAP-1")
    domain.check_claim(claim(canonical_id="EQ-POS-2", start=t(1, 3)), [old])  # hand-over at 1 March
    # and the old position takes a new motor from the same instant
    domain.check_claim(claim(system_id="ASSET-5000", canonical_id="EQ-POS-1", start=t(1, 3)), [old])


@pytest.mark.parametrize(
    "other",
    [
        claim(system="mes", canonical_id="EQ-POS-2", mapping_id="MAP-1"),  # another system's namespace
        claim(kind="item", canonical_id="ITEM-1", mapping_id="MAP-1"),  # another kind's namespace
        claim(canonical_id="EQ-POS-2", end=t(1), mapping_id="MAP-1"),  # ended before the new period
    ],
)
def test_claims_in_other_namespaces_or_periods_do_not_conflict(other: Claim) -> None:
    domain.check_claim(claim(canonical_id="EQ-POS-1", start=t(1)), [other])


def test_changing_a_mapping_is_not_checked_against_itself() -> None:
    mapped = claim(start=t(1), end=t(10), mapping_id="MAP-1")
    domain.check_claim(mapped.with_end(None), [mapped])


def test_reopening_a_mapping_that_was_handed_over_is_a_conflict() -> None:
    old = claim(canonical_id="EQ-POS-1", start=t(1), end=t(10), mapping_id="MAP-1")
    new = claim(canonical_id="EQ-POS-2", start=t(10), mapping_id="MAP-2")
    assert conflict_slug(old.with_end(None), [old, new]) == "system-id-taken"


def test_ending_a_mapping_at_or_before_its_start_is_refused() -> None:
    with pytest.raises(Unprocessable):
        claim(start=t(10)).with_end(t(10))


def test_lookup_picks_the_mapping_valid_at_the_instant() -> None:
    old = claim(canonical_id="EQ-POS-1", end=t(1, 3), mapping_id="MAP-1")
    new = claim(canonical_id="EQ-POS-2", start=t(1, 3), mapping_id="MAP-2")
    assert [c.mapping_id for c in domain.valid_at([old, new], t(28, 2))] == ["MAP-1"]
    assert [c.mapping_id for c in domain.valid_at([old, new], t(1, 3))] == ["MAP-2"]
