"""Events the cross-reference registry publishes on `events.xref` (subject: the canonical id).

Services that cache translations drop or refresh an entry when its mapping changes.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from contracts.kit.envelope import event

STREAM = "events.xref"


@event("xref.entity.registered.v1", STREAM, "A canonical id was registered for a thing.")
class EntityRegistered(msgspec.Struct, kw_only=True):
    canonical_id: str
    kind: str
    label: str | None = None


@event("xref.mapping.registered.v1", STREAM, "A system's id was mapped to a canonical id.")
class MappingRegistered(msgspec.Struct, kw_only=True):
    mapping_id: str
    canonical_id: str
    kind: str
    system: str
    system_id: str
    valid_from: datetime | None = None
    valid_to: datetime | None = None


@event("xref.mapping.validity_changed.v1", STREAM, "A mapping's validity was ended (or reopened).")
class MappingValidityChanged(msgspec.Struct, kw_only=True):
    mapping_id: str
    canonical_id: str
    kind: str
    system: str
    system_id: str
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    previous_valid_to: datetime | None = None
