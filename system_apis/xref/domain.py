"""Validity and overlap rules of the registry: pure functions, no I/O.

A mapping claims "system S calls canonical thing C by id X" for a half-open period
[start, end); an open start means "since always", an open end "until further notice". Two
rules keep every lookup a function of (id, instant), so translation is never ambiguous:

1. at any instant, a system id names at most one canonical id (of its kind);
2. at any instant, a canonical id has at most one id in each system.

A rebuilt motor therefore moves by ending its asset mapping on the old position and
registering it on the new one from the same instant: the periods touch but do not overlap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.kit.paging import body_instant
from contracts.kit.problems import Conflict, Unprocessable


@dataclass(frozen=True, slots=True)
class Validity:
    start: datetime | None = None  # inclusive; None: since always
    end: datetime | None = None  # exclusive; None: until further notice

    def contains(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)

    def overlaps(self, other: Validity) -> bool:
        # Half-open periods overlap when each starts before the other ends.
        return _starts_before_end(self.start, other.end) and _starts_before_end(other.start, self.end)

    def __str__(self) -> str:
        start = self.start.isoformat() if self.start else "always"
        end = self.end.isoformat() if self.end else "open"
        return f"[{start}, {end})"


def _starts_before_end(start: datetime | None, end: datetime | None) -> bool:
    return start is None or end is None or start < end


def validity(valid_from: datetime | None, valid_to: datetime | None) -> Validity:
    """A period from request fields; an empty or inverted one is refused."""
    # In UTC, so every store compares the same instants (SQLite keeps no offset).
    period = Validity(body_instant(valid_from, "valid_from"), body_instant(valid_to, "valid_to"))
    if period.start is not None and period.end is not None and period.end <= period.start:
        raise Unprocessable(
            f"valid_to must be after valid_from; got {period}",
            slug="empty-validity",
            title="Empty validity period",
        )
    return period


@dataclass(frozen=True, slots=True)
class Claim:
    """One mapping as the rules see it."""

    mapping_id: str
    kind: str
    canonical_id: str
    system: str
    system_id: str
    validity: Validity

    def with_end(self, end: datetime | None) -> Claim:
        return replace(self, validity=validity(self.validity.start, end))


class MappingConflict(Conflict):
    title = "Conflicting mapping"

    def __init__(self, detail: str, slug: str, other: Claim) -> None:
        super().__init__(
            detail,
            slug=slug,
            conflicting_mapping_id=other.mapping_id,
            conflicting_canonical_id=other.canonical_id,
            conflicting_system_id=other.system_id,
            conflicting_valid_from=other.validity.start.isoformat() if other.validity.start else None,
            conflicting_valid_to=other.validity.end.isoformat() if other.validity.end else None,
        )


def check_claim(new: Claim, existing: Iterable[Claim]) -> None:
    """Raise a 409 naming the first existing mapping that `new` would contradict."""
    for other in existing:
        if (
            other.mapping_id == new.mapping_id
            or other.kind != new.kind
            or other.system != new.system
            or not other.validity.overlaps(new.validity)
        ):
            continue
        same_id, same_thing = other.system_id == new.system_id, other.canonical_id == new.canonical_id
        where = f"{new.system} {new.kind} id {new.system_id}"
        if same_id and same_thing:
            raise MappingConflict(
                f"{where} is already mapped to {new.canonical_id} for {other.validity} ({other.mapping_id})",
                "mapping-exists",
                other,
            )
        if same_id:
            raise MappingConflict(
                f"{where} is mapped to {other.canonical_id} for {other.validity} "
                f"({other.mapping_id}); end that mapping first",
                "system-id-taken",
                other,
            )
        if same_thing:
            raise MappingConflict(
                f"{new.canonical_id} already has {new.system} id {other.system_id} for "
                f"{other.validity} ({other.mapping_id}); end that mapping first",
                "canonical-already-mapped",
                other,
            )


def valid_at(claims: Iterable[Claim], at: datetime) -> list[Claim]:
    return [c for c in claims if c.validity.contains(at)]
