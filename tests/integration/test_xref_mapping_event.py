"""A registered mapping stages one event that carries the mapping as stored: the canonical id, the
system's id, and the validity period in UTC whatever offset the request used."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_xref_api import SCOPES, entity, mapping
from tests.support.db import events
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, api_in_process, ok, unique


@pytest.fixture(scope="module", params=BACKENDS)
def xref(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"xref_event_{request.param}")
    with api_in_process(in_process, "xref", url, scopes=SCOPES) as api:
        yield api


async def test_a_registered_mapping_event_carries_the_stored_mapping_in_utc(xref: Api) -> None:
    canonical_id = entity(xref.http, "lot")
    system_id = unique("LOT")
    period = {"valid_from": "2026-03-01T08:00:00+02:00", "valid_to": "2026-09-01T08:00:00+02:00"}
    registered = ok(mapping(xref.http, canonical_id, "mes", system_id, **period), 201)

    staged = await events(xref.database_url, canonical_id)
    assert [data for kind, data in staged if kind == "xref.mapping.registered.v1"] == [
        {
            "mapping_id": registered["mapping_id"],
            "canonical_id": canonical_id,
            "kind": "lot",
            "system": "mes",
            "system_id": system_id,
            "valid_from": "2026-03-01T06:00:00Z",
            "valid_to": "2026-09-01T06:00:00Z",
        }
    ]
