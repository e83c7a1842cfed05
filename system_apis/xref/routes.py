"""Registry HTTP surface: Struct in, one service call, Struct out."""

from __future__ import annotations

from typing import Annotated, get_args

import msgspec
from litestar import Controller, Response, get, patch
from litestar.params import FromQuery, HeaderParameter, JSONBody, Parameter, QueryParameter
from litestar.types import ControllerRouterHandler

from contracts.kit.actions import Handlers
from contracts.kit.paging import Paged, parse_instant
from contracts.kit.responses import problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.models import xref as m
from contracts.models.common import Id
from system_apis.xref import service

Q = Paged

# Litestar 2.25 does not enforce msgspec constraints (`Id`, `SystemId`) on path and query
# parameters, only those given to `Parameter`; without them a NUL byte reaches PostgreSQL.
_ID: msgspec.Meta = get_args(Id)[1]
PathId = Annotated[str, Parameter(min_length=1, max_length=_ID.max_length, pattern=_ID.pattern)]
QueryId = Annotated[str | None, Parameter(min_length=1, max_length=_ID.max_length, pattern=_ID.pattern)]
QuerySystemId = Annotated[str | None, Parameter(min_length=1, max_length=128, pattern=m.SYSTEM_ID_PATTERN)]

# Ending a validity period must be based on what the caller saw, so If-Match is required here.
IfMatchRequired = Annotated[
    str,
    HeaderParameter(
        name="If-Match",
        min_length=1,
        max_length=200,
        description="ETag of the mapping version this change is based on (required)",
    ),
]
At = Annotated[
    str | None,
    Parameter(
        description="The instant to translate at (RFC 3339 with offset); default now",
        max_length=64,
        schema_extra={"format": "date-time"},
    ),
]


ENTITIES = Handlers("canonical_id", m.Entity)


class EntityFilters:
    kind: FromQuery[m.Kind | None]


class EntityController(Controller):
    path = "/entities"
    tags = ["entities"]

    create = ENTITIES.create(
        service.register_entity,
        m.EntityCreate,
        summary="Register a canonical id",
        description="Mints `urn:mfg:<kind>:<uuid>` unless `canonical_id` is given; 409 if it exists.",
    )

    list = ENTITIES.list(service.list_entities, EntityFilters, summary="List canonical ids")

    get = ENTITIES.get(service.get_entity, summary="Get a canonical id")


MAPPINGS = Handlers("mapping_id", m.Mapping)


class MappingFilters:
    kind: FromQuery[m.Kind | None]
    system: FromQuery[m.System | None]
    system_id: QuerySystemId
    canonical_id: QueryId


class MappingController(Controller):
    path = "/mappings"
    tags = ["mappings"]

    create = MAPPINGS.create(
        service.register_mapping,
        m.MappingCreate,
        summary="Map a system's id to a canonical id",
        description="409 when the system id is mapped to another canonical id, or the canonical id "
        "already has an id in that system, over an overlapping validity period.",
    )

    list = MAPPINGS.list(
        service.list_mappings,
        MappingFilters,
        summary="List mappings, with their full validity history",
    )

    get = MAPPINGS.get(service.get_mapping, summary="Get a mapping")

    @patch(
        "/{mapping_id:str}",
        responses=problems(404, 409, 412, 422),
        summary="End (or reopen) a mapping",
        description="Sets `valid_to`. 409 if the new period would overlap another mapping.",
    )
    async def change_validity(
        self,
        session: Session,
        mapping_id: PathId,
        data: JSONBody[m.ValidityUpdate],
        if_match: IfMatchRequired,
    ) -> Response[m.Mapping]:
        return versioned(await service.change_validity(session, mapping_id, data, if_match))


@get(
    "/resolve",
    tags=["lookups"],
    responses=problems(404, 422),
    summary="Translate an id",
    description="From a canonical id or a system's id to the canonical id and every system id valid "
    "at `at`, or only the id in system `to`. An unknown id is 404; nothing is created.",
)
async def resolve(
    session: Session,
    kind: FromQuery[m.Kind],
    source: Annotated[m.IdSpace, QueryParameter(name="from", description="Where `id` comes from")],
    id_: Annotated[
        str,
        QueryParameter(
            name="id",
            min_length=1,
            max_length=128,
            pattern=m.SYSTEM_ID_PATTERN,
            description="The id to translate",
        ),
    ],
    to: Annotated[m.System | None, Parameter(description="Only the id in this system")] = None,
    at: At = None,
) -> m.Resolution:
    return await service.resolve(session, kind, source, id_, to, parse_instant(at))


ROUTES: list[ControllerRouterHandler] = [EntityController, MappingController, resolve]
