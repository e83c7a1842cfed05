"""What the Tryton connector needs to know, from ERP_TRYTON_* variables (see ErpSettings).

The location map says which Tryton location holds each of our stock statuses at each of our
locations: `{"WH1": {"unrestricted": "WH1", "quality_inspection": "WH1-QI", "blocked":
"WH1-BLK"}}` (Tryton location codes). Stock status is where the quantity sits: a block is a
done move from the quality-inspection location to the blocked one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec

from contracts.models.erp import StockStatus

LocationCode = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class StatusLocations(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    unrestricted: LocationCode
    quality_inspection: LocationCode
    blocked: LocationCode

    def by_status(self) -> dict[StockStatus, str]:
        return {
            StockStatus.UNRESTRICTED: self.unrestricted,
            StockStatus.QUALITY_INSPECTION: self.quality_inspection,
            StockStatus.BLOCKED: self.blocked,
        }


LocationMap = dict[LocationCode, StatusLocations]


def parse_location_map(text: str) -> LocationMap:
    """The ERP_TRYTON_LOCATIONS value; a location code may serve one status of one place only."""
    try:
        parsed = msgspec.json.decode(text or "{}", type=LocationMap)
    except msgspec.DecodeError as exc:
        raise ValueError(f"ERP_TRYTON_LOCATIONS is not a valid location map: {exc}") from exc
    seen: dict[str, str] = {}
    for place, statuses in parsed.items():
        for status, code in statuses.by_status().items():
            if code in seen:
                raise ValueError(
                    f"ERP_TRYTON_LOCATIONS: Tryton location {code!r} is named for {seen[code]} "
                    f"and for {place} {status}"
                )
            seen[code] = f"{place} {status}"
    return parsed


@dataclass(frozen=True)
class TrytonSettings:
    url: str
    database: str
    user: str
    password: str
    locations: LocationMap
    poll_seconds: float = 1.0
    # A change committed in Tryton may carry a write_date earlier than one already polled (a
    # longer transaction that started first): each poll looks back this far and drops what it
    # has already turned into events.
    poll_overlap_seconds: float = 60.0
    # Documents the connector itself started are left to the request that started them for
    # this long; after that (the request died and nobody retried) the poller takes them over.
    adopt_after_seconds: float = 30.0
    timeout_seconds: float = 10.0
