"""Cross-reference registry in process (its whole ASGI stack, no socket), on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.db import count, rows
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, api_in_process, client, problem, unique

SCOPES = ["xref:read", "xref:write"]
API = "/xref/v1"


@pytest.fixture(scope="module", params=BACKENDS)
def xref(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"xref_api_{request.param}")
    with api_in_process(in_process, "xref", url, scopes=SCOPES) as api:
        yield api


def entity(http: httpx.Client, kind: str = "equipment", **fields: Any) -> str:
    response = http.post(f"{API}/entities", json={"kind": kind, **fields})
    assert response.status_code == 201, response.text
    canonical_id: str = response.json()["canonical_id"]
    return canonical_id


def mapping(
    http: httpx.Client, canonical_id: str, system: str, system_id: str, **fields: Any
) -> httpx.Response:
    body = {"canonical_id": canonical_id, "system": system, "system_id": system_id, **fields}
    return http.post(f"{API}/mappings", json=body)


def resolve(http: httpx.Client, kind: str, source: str, id_: str, **params: str) -> httpx.Response:
    return http.get(f"{API}/resolve", params={"kind": kind, "from": source, "id": id_, **params})


def outbox_types(xref: Api, subject: str) -> set[str]:
    found = asyncio.run(rows(xref.database_url, "SELECT type FROM kit_outbox WHERE subject = :s", s=subject))
    return {r[0] for r in found}


def counts(xref: Api) -> list[int]:
    return [asyncio.run(count(xref.database_url, table)) for table in ("entities", "mappings", "kit_outbox")]


def test_a_rebuilt_motor_moves_position_and_lookups_follow_the_instant(xref: Api) -> None:
    http = xref.http
    cnc07, cnc09 = unique("CNC"), unique("CNC")
    motor, spare = unique("ASSET"), unique("ASSET")
    pos1 = entity(http, label="Spindle position of CNC-07")
    pos2 = entity(http)
    assert pos1.startswith("urn:mfg:equipment:")
    assert mapping(http, pos1, "mes", cnc07).status_code == 201
    assert mapping(http, pos2, "mes", cnc09).status_code == 201
    first = mapping(http, pos1, "cmms", motor, valid_from="2024-01-01T00:00:00+01:00")
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"{API}/mappings/{first.json()['mapping_id']}"
    assert first.json()["valid_from"] == "2023-12-31T23:00:00Z"  # stored and shown in UTC

    # The motor cannot be put on position 2 while it still sits on position 1.
    clash = mapping(http, pos2, "cmms", motor, valid_from="2025-03-01T06:00:00Z")
    body = problem(clash, 409, "system-id-taken")
    assert body["conflicting_mapping_id"] == first.json()["mapping_id"]
    assert body["conflicting_canonical_id"] == pos1

    # End it explicitly, based on the version read, then hand it over at the same instant.
    ended = http.patch(
        first.headers["location"],
        json={"valid_to": "2025-03-01T06:00:00Z"},
        headers={"If-Match": first.headers["etag"]},
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["valid_to"] == "2025-03-01T06:00:00Z"
    assert ended.headers["etag"] != first.headers["etag"]
    assert mapping(http, pos2, "cmms", motor, valid_from="2025-03-01T06:00:00Z").status_code == 201
    assert mapping(http, pos1, "cmms", spare, valid_from="2025-03-01T06:00:00Z").status_code == 201

    def cmms_id_of(mes_id: str, at: str) -> str:
        found = resolve(http, "equipment", "mes", mes_id, to="cmms", at=at)
        assert found.status_code == 200, found.text
        [ref] = found.json()["ids"]
        return str(ref["system_id"])

    assert cmms_id_of(cnc07, "2024-06-01T00:00:00Z") == motor
    assert cmms_id_of(cnc07, "2025-03-01T05:59:59.999999Z") == motor
    assert cmms_id_of(cnc07, "2025-03-01T06:00:00Z") == spare
    assert cmms_id_of(cnc09, "2025-06-01T00:00:00Z") == motor
    assert resolve(http, "equipment", "cmms", motor, at="2024-06-01T00:00:00Z").json()["canonical_id"] == pos1
    assert resolve(http, "equipment", "cmms", motor).json()["canonical_id"] == pos2  # default: now

    # Canonical to every system id valid at the instant.
    everything = resolve(http, "equipment", "canonical", pos1, at="2024-06-01T00:00:00Z")
    assert everything.status_code == 200
    assert {(r["system"], r["system_id"]) for r in everything.json()["ids"]} == {
        ("cmms", motor),
        ("mes", cnc07),
    }
    # Before the motor was fitted, position 2 had no CMMS asset.
    problem(
        resolve(http, "equipment", "mes", cnc09, to="cmms", at="2024-06-01T00:00:00Z"),
        404,
        "no-target-mapping",
    )

    # The history stays readable, and each change went to the outbox with the canonical id as subject.
    history = http.get(f"{API}/mappings", params={"kind": "equipment", "system": "cmms", "system_id": motor})
    assert [(m["canonical_id"], m["valid_to"]) for m in history.json()["items"]] == [
        (pos1, "2025-03-01T06:00:00Z"),
        (pos2, None),
    ]
    assert outbox_types(xref, pos1) == {
        "xref.entity.registered.v1",
        "xref.mapping.registered.v1",
        "xref.mapping.validity_changed.v1",
    }


def test_items_lots_and_suppliers_translate_between_systems(xref: Api) -> None:
    http = xref.http
    item = entity(http, "item", canonical_id=unique("ITEM"), label="Hex bolt M8x40")
    erp_no, mes_no = unique("MAT"), unique("P")
    assert mapping(http, item, "erp", erp_no).status_code == 201
    assert mapping(http, item, "mes", mes_no).status_code == 201
    found = resolve(http, "item", "erp", erp_no, to="mes")
    assert found.status_code == 200
    assert found.json()["canonical_id"] == item
    assert [r["system_id"] for r in found.json()["ids"]] == [mes_no]

    # Other systems' ids are taken as they come, blanks and slashes included.
    lot = entity(http, "lot")
    supplier_lot = f"L {uuid.uuid4().hex[:6]}/017-A"
    assert mapping(http, lot, "supplier", supplier_lot).status_code == 201
    assert resolve(http, "lot", "supplier", supplier_lot).json()["canonical_id"] == lot
    # The same text in another kind is another namespace: no match, no conflict.
    problem(resolve(http, "item", "supplier", supplier_lot), 404, "mapping-not-found")
    assert mapping(http, entity(http, "supplier"), "supplier", supplier_lot).status_code == 201


def test_an_unknown_id_is_404_and_nothing_is_created(xref: Api) -> None:
    http = xref.http
    before = counts(xref)
    problem(resolve(http, "equipment", "mes", unique("NOPE"), to="cmms"), 404, "mapping-not-found")
    problem(resolve(http, "item", "canonical", unique("NOPE")), 404, "entity-not-found")
    problem(http.get(f"{API}/entities/{unique('NOPE')}"), 404, "entity-not-found")
    problem(http.get(f"{API}/mappings/{unique('MAP')}"), 404, "mapping-not-found")
    problem(mapping(http, unique("NOPE"), "erp", unique("MAT")), 422, "unknown-entity")
    # A canonical id of another kind is not found either.
    problem(resolve(http, "lot", "canonical", entity(http, "item")), 404, "entity-not-found")
    assert counts(xref) == [before[0] + 1, before[1], before[2] + 1]  # only the item entity made above


def test_one_thing_has_one_id_per_system_at_a_time(xref: Api) -> None:
    http = xref.http
    item = entity(http, "item")
    assert mapping(http, item, "erp", unique("MAT"), valid_to="2025-01-01T00:00:00Z").status_code == 201
    problem(
        mapping(http, item, "erp", unique("MAT"), valid_from="2024-12-31T00:00:00Z"),
        409,
        "canonical-already-mapped",
    )
    assert mapping(http, item, "erp", unique("MAT"), valid_from="2025-01-01T00:00:00Z").status_code == 201


def test_a_registered_canonical_id_is_not_registered_twice(xref: Api) -> None:
    canonical_id = unique("SUP")
    entity(xref.http, "supplier", canonical_id=canonical_id)
    problem(
        xref.http.post(f"{API}/entities", json={"kind": "supplier", "canonical_id": canonical_id}),
        409,
        "entity-exists",
    )


def test_changing_validity_needs_a_current_if_match_and_a_sane_period(xref: Api) -> None:
    http = xref.http
    created = mapping(http, entity(http), "cmms", unique("ASSET"), valid_from="2025-01-01T00:00:00Z")
    url, etag = created.headers["location"], created.headers["etag"]
    problem(http.patch(url, json={"valid_to": "2025-02-01T00:00:00Z"}), 400, "validation")
    problem(
        http.patch(url, json={"valid_to": "2025-02-01T00:00:00Z"}, headers={"If-Match": '"99"'}),
        412,
        "stale-version",
    )
    problem(
        http.patch(url, json={"valid_to": "2024-12-01T00:00:00Z"}, headers={"If-Match": etag}),
        422,
        "empty-validity",
    )
    problem(
        http.patch(url, json={"valid_to": "2025-02-01T00:00:00"}, headers={"If-Match": etag}),
        400,
        "validation",
    )
    unchanged = http.get(url)
    assert unchanged.headers["etag"] == etag
    assert unchanged.json()["valid_to"] is None
    ended = http.patch(url, json={"valid_to": "2025-02-01T00:00:00Z"}, headers={"If-Match": etag})
    assert ended.status_code == 200
    # The old ETag is stale now; reopening needs the new one.
    problem(http.patch(url, json={"valid_to": None}, headers={"If-Match": etag}), 412, "stale-version")
    reopened = http.patch(url, json={"valid_to": None}, headers={"If-Match": ended.headers["etag"]})
    assert reopened.status_code == 200
    assert reopened.json()["valid_to"] is None


def test_control_characters_are_refused_before_they_reach_the_store(xref: Api) -> None:
    http = xref.http
    problem(http.post(f"{API}/entities", json={"kind": "item", "label": "bolt\x00"}), 400, "validation")
    # In the path or query: refused by every server before any route (contracts/kit/http_limits.py).
    problem(http.get(f"{API}/entities/ITEM%001"), 422, "control-characters")
    problem(http.get(f"{API}/mappings", params={"system_id": "A\x00"}), 422, "control-characters")
    # Year 1 at +01:00 is before year 1 in UTC; PostgreSQL could not even bind it.
    far = {"updated_since": "0001-01-01T00:00:00+01:00"}
    problem(http.get(f"{API}/entities", params=far), 422, "invalid-date-time")


@pytest.mark.parametrize(
    "body",
    [
        {"system": "erp", "system_id": "MAT-1"},  # no canonical id
        {"canonical_id": "X-1", "system": "sap", "system_id": "MAT-1"},  # unknown system
        {"canonical_id": "X-1", "system": "erp", "system_id": " MAT-1"},  # leading blank
        {"canonical_id": "X-1", "system": "erp", "system_id": "MAT\n1"},  # control character
        {"canonical_id": "X-1", "system": "erp", "system_id": "MAT-1\n"},  # final newline
        {"canonical_id": "X-1\n", "system": "erp", "system_id": "MAT-1"},
        {"canonical_id": "X-1", "system": "erp", "system_id": "MAT-1", "valid_from": "2025-01-01"},
        {"canonical_id": "X-1", "system": "erp", "system_id": "MAT-1", "valid_from": "2025-01-01T00:00:00"},
        {"canonical_id": "X-1", "system": "erp", "system_id": "MAT-1", "kind": "item"},  # unknown field
    ],
)
def test_bad_mapping_bodies_are_400_problems(xref: Api, body: dict[str, Any]) -> None:
    problem(xref.http.post(f"{API}/mappings", json=body), 400, "validation")


@pytest.mark.parametrize(
    ("params", "status", "slug"),
    [
        ({"kind": "item", "from": "sap", "id": "X"}, 400, "validation"),
        ({"kind": "item", "from": "erp"}, 400, "validation"),
        ({"kind": "item", "from": "erp", "id": "MAT\x001"}, 422, "control-characters"),  # NUL
        ({"kind": "item", "from": "erp", "id": "X", "at": "2025-01-01"}, 422, "invalid-date-time"),
        (
            {"kind": "item", "from": "erp", "id": "X", "at": "0001-01-01T00:00:00+01:00"},
            422,
            "invalid-date-time",
        ),
    ],
)
def test_bad_lookups_are_4xx_problems(xref: Api, params: dict[str, str], status: int, slug: str) -> None:
    problem(xref.http.get(f"{API}/resolve", params=params), status, slug)


def test_a_retried_registration_replays_the_first_answer(xref: Api) -> None:
    http = xref.http
    item, erp_no = entity(http, "item"), unique("MAT")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"canonical_id": item, "system": "erp", "system_id": erp_no}
    first = http.post(f"{API}/mappings", json=body, headers=key)
    again = http.post(f"{API}/mappings", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    # Without the key, the same registration is a conflict rather than a second row.
    problem(http.post(f"{API}/mappings", json=body), 409, "mapping-exists")


def test_concurrent_claims_on_one_system_id_let_exactly_one_win(xref: Api) -> None:
    http = xref.http
    contested = unique("ASSET")
    positions = [entity(http) for _ in range(12)]

    def claim(canonical_id: str) -> int:
        with client(xref.service, scopes=SCOPES) as own:
            return mapping(own, canonical_id, "cmms", contested).status_code

    with ThreadPoolExecutor(max_workers=len(positions)) as pool:
        statuses = sorted(pool.map(claim, positions))
    assert statuses == [201] + [409] * (len(positions) - 1)
    listed = http.get(f"{API}/mappings", params={"system": "cmms", "system_id": contested}).json()["items"]
    assert len(listed) == 1


def test_lists_page_with_a_cursor(xref: Api) -> None:
    http = xref.http
    canonical_id = entity(http, "lot")
    for system in ("erp", "mes", "qms"):
        assert mapping(http, canonical_id, system, unique("L")).status_code == 201
    first = http.get(f"{API}/mappings", params={"canonical_id": canonical_id, "limit": 2}).json()
    second = http.get(
        f"{API}/mappings", params={"canonical_id": canonical_id, "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    assert {m["system"] for m in first["items"] + second["items"]} == {"erp", "mes", "qms"}
    kinds = {
        e["kind"] for e in http.get(f"{API}/entities", params={"kind": "lot", "limit": 500}).json()["items"]
    }
    assert kinds == {"lot"}
