"""Cross-reference registry v1 (`/xref/v1`): the shapes on the wire.

One canonical id per thing (item, lot, supplier, equipment); each system's own id for it is a
mapping with a validity period [valid_from, valid_to). An open end (null) means "since always"
or "until further notice". Equipment mappings use the period for real: a rebuilt motor keeps
its CMMS asset id but moves to another equipment position.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from contracts.kit.patterns import whole
from contracts.models.common import Id, Input, Output

# Instants on the wire must carry an offset: a naive time would be read differently by each
# system, and validity boundaries have to mean one moment.
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
# Other systems' ids are taken as they come ("LOT 2024/017-A"): printable, no control
# characters, no leading or trailing blanks.
SYSTEM_ID_PATTERN = whole(r"[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?")
SystemId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=SYSTEM_ID_PATTERN)]
# A label is free text on one line; control characters (NUL above all, which PostgreSQL
# refuses) are rejected at the edge rather than failing in the store.
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=whole(r"[^\x00-\x1f\x7f]+"))]


class Kind(StrEnum):
    ITEM = "item"
    LOT = "lot"
    SUPPLIER = "supplier"
    EQUIPMENT = "equipment"


class System(StrEnum):
    ERP = "erp"
    MES = "mes"
    CMMS = "cmms"
    QMS = "qms"
    SUPPLIER = "supplier"  # the supplier's own numbers (part number, supplier lot)
    # What machines call themselves: an OPC UA machine, a Sparkplug node or device, an MQTT topic.
    SHOPFLOOR = "shopfloor"


class IdSpace(StrEnum):
    """Where the id given to `resolve` comes from: the registry itself or one system."""

    CANONICAL = "canonical"
    ERP = "erp"
    MES = "mes"
    CMMS = "cmms"
    QMS = "qms"
    SUPPLIER = "supplier"
    SHOPFLOOR = "shopfloor"


# --- canonical entities -----------------------------------------------------------------------
class EntityCreate(Input, kw_only=True):
    kind: Kind
    canonical_id: Id | None = None  # minted as urn:mfg:<kind>:<uuid> when absent
    label: Label | None = None


class Entity(Output, kw_only=True):
    canonical_id: str
    kind: Kind
    label: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# --- mappings ---------------------------------------------------------------------------------
class MappingCreate(Input, kw_only=True):
    canonical_id: Id
    system: System
    system_id: SystemId
    valid_from: Instant | None = None
    valid_to: Instant | None = None


class ValidityUpdate(Input, kw_only=True):
    """End a mapping's validity (or, with null, reopen it); sent with If-Match."""

    valid_to: Instant | None


class Mapping(Output, kw_only=True):
    mapping_id: str
    canonical_id: str
    kind: Kind
    system: System
    system_id: str
    valid_from: datetime | None
    valid_to: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


# --- lookups ----------------------------------------------------------------------------------
class SystemRef(Output, kw_only=True):
    system: System
    system_id: str
    mapping_id: str
    valid_from: datetime | None
    valid_to: datetime | None


class Resolution(Output, kw_only=True):
    """The canonical id and the system ids valid at `at` (only `to`'s id when `to` was asked)."""

    kind: Kind
    canonical_id: str
    at: datetime
    ids: list[SystemRef]
