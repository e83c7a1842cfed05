"""Technician API in process, calling CMMS, QMS and ERP served in process, with signed tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from contracts.kit.http1 import Headers, Transport, Unavailable
from tests.experience import seed
from tests.support.fixtures import DatabaseUrl
from tests.support.http import client, problem
from tests.support.inprocess import Apps, InProcess, Serve, outbound_to

API = "/technician/v1"


def technician(apps: Apps, person: str, site: str) -> httpx.Client:
    return device(apps.services["technician"], person, site)


def device(service: InProcess, person: str, site: str) -> httpx.Client:
    """A technician's tablet calling `service`, a technician API."""
    return client(
        service,
        scopes=["technician:app"],
        claims={"person_id": person, "site": site},
        client_id=f"device-{person}",
    )


@pytest.fixture(scope="module")
def cmms(apps: Apps) -> Iterator[httpx.Client]:
    with client(apps.services["cmms"], scopes=["cmms:read", "cmms:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def qms(apps: Apps) -> Iterator[httpx.Client]:
    with client(apps.services["qms"], scopes=["qms:read", "qms:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def world(cmms: httpx.Client, qms: httpx.Client) -> dict[str, Any]:
    """P1 works at S1; the same person id has an order at S2, and P2 one at S1."""
    p1, p2, site, other_site = (f"{x}-{seed.tag()}" for x in ("P1", "P2", "S1", "S2"))
    press = seed.asset(cmms, site)
    nc_id = seed.nonconformance(qms, equipment_id=press)
    earlier = seed.work_order(cmms, press, p2)
    mine = seed.work_order(cmms, press, p1, nc_id=nc_id)
    elsewhere = seed.work_order(cmms, seed.asset(cmms, other_site), p1)
    someone_elses = seed.work_order(cmms, press, p2)
    return {
        "p1": p1,
        "site": site,
        "other_site": other_site,
        "press": press,
        "nc_id": nc_id,
        "earlier": earlier["wo_id"],
        "mine": mine["wo_id"],
        "elsewhere": elsewhere["wo_id"],
        "someone_elses": someone_elses["wo_id"],
    }


def test_a_technician_sees_only_their_work_at_their_site(apps: Apps, world: dict[str, Any]) -> None:
    with technician(apps, world["p1"], world["site"]) as me:
        work = seed.ok(me.get(f"{API}/my-work"))
        assert [i["wo_id"] for i in work["items"]] == [world["mine"]]
        item = work["items"][0]
        assert item["asset"]["asset_id"] == world["press"]
        assert item["nonconformance"]["nc_id"] == world["nc_id"]
        assert {h["wo_id"] for h in item["history"]} == {world["earlier"], world["someone_elses"]}
        assert work["warnings"] == []
        for hidden in (world["elsewhere"], world["someone_elses"], "WO-NOPE"):
            for method, path in (("GET", ""), ("POST", "/start"), ("POST", "/complete")):
                response = me.request(
                    method, f"{API}/work-orders/{hidden}{path}", json={} if method == "POST" else None
                )
                assert response.status_code == 404, (hidden, path, response.text)
    # The same person at the other site sees the other order, and only that.
    with technician(apps, world["p1"], world["other_site"]) as there:
        assert [i["wo_id"] for i in seed.ok(there.get(f"{API}/my-work"))["items"]] == [world["elsewhere"]]


def test_a_token_without_person_and_site_is_refused(apps: Apps) -> None:
    with client(apps.services["technician"], scopes=["technician:app"]) as anonymous_device:
        assert anonymous_device.get(f"{API}/my-work").status_code == 403
    with client(
        apps.services["technician"], scopes=["cmms:read"], claims={"person_id": "P", "site": "S"}
    ) as c:
        assert c.get(f"{API}/my-work").status_code == 403


def test_etags_answer_304_and_delta_sync_sees_changes(apps: Apps, world: dict[str, Any]) -> None:
    with technician(apps, world["p1"], world["site"]) as me:
        first = me.get(f"{API}/my-work")
        assert me.get(f"{API}/my-work", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
        one = me.get(f"{API}/work-orders/{world['mine']}")
        assert one.headers["ETag"] == f'"{one.json()["version"]}"'
        assert (
            me.get(
                f"{API}/work-orders/{world['mine']}", headers={"If-None-Match": one.headers["ETag"]}
            ).status_code
            == 304
        )
        since = max(i["updated_at"] for i in first.json()["items"])
        assert seed.ok(me.get(f"{API}/my-work", params={"updated_since": since}))["items"] == []
        seed.ok(
            me.post(f"{API}/work-orders/{world['mine']}/start", headers={"If-Match": one.headers["ETag"]})
        )
        changed = seed.ok(me.get(f"{API}/my-work", params={"updated_since": since}))["items"]
        assert [(i["wo_id"], i["status"]) for i in changed] == [(world["mine"], "in_progress")]
        assert me.get(f"{API}/my-work", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_a_stale_edit_is_412_with_the_current_version(apps: Apps, world: dict[str, Any]) -> None:
    with technician(apps, world["p1"], world["site"]) as me:
        current = seed.ok(me.get(f"{API}/work-orders/{world['mine']}"))
        stale = me.post(
            f"{API}/work-orders/{world['mine']}/pause",
            json={"reason": "waiting for crane"},
            headers={"If-Match": '"1"'},
        )
        assert stale.status_code == 412, stale.text
        assert stale.json()["current_version"] == current["version"]
        assert stale.headers["ETag"] == f'"{current["version"]}"'


def test_pause_resume_and_a_resent_completion_posts_once(
    apps: Apps, world: dict[str, Any], cmms: httpx.Client
) -> None:
    order = seed.work_order(cmms, world["press"], world["p1"])["wo_id"]
    completion = {
        "parts": [{"item_id": "SP-BEARING", "quantity": 2, "warehouse": "WH1"}],
        "labor": [{"hours": 1.5, "rate": "60.00"}],
        "cause_code": "BRG-WEAR",
        "correction_code": "REPLACE",
        "downtime_minutes": 45,
    }
    with technician(apps, world["p1"], world["site"]) as me:
        seed.ok(me.post(f"{API}/work-orders/{order}/start"))
        paused = seed.ok(me.post(f"{API}/work-orders/{order}/pause", json={"reason": "waiting for parts"}))
        assert (paused["status"], paused["hold_reason"]) == ("on_hold", "waiting for parts")
        assert seed.ok(me.post(f"{API}/work-orders/{order}/start"))["status"] == "in_progress"
        key = {"Idempotency-Key": f"complete-{order}"}
        first = me.post(f"{API}/work-orders/{order}/complete", json=completion, headers=key)
        again = me.post(f"{API}/work-orders/{order}/complete", json=completion, headers=key)
    assert first.status_code == again.status_code == 200, first.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    done = seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}"))
    assert done["status"] == "technically_complete"
    assert [(p["item_id"], p["quantity"]) for p in done["parts"]] == [("SP-BEARING", 2)]
    assert [(lab["person_id"], lab["hours"]) for lab in done["labor"]] == [(world["p1"], 1.5)]
    assert (done["cause_code"], done["correction_code"]) == ("BRG-WEAR", "REPLACE")


def test_without_erp_the_answer_comes_with_a_warning(
    apps: Apps, world: dict[str, Any], cmms: httpx.Client
) -> None:
    order = seed.work_order(cmms, world["press"], world["p1"])["wo_id"]
    seed.ok(cmms.post(f"/cmms/v1/work-orders/{order}/start"))
    seed.ok(
        cmms.post(
            f"/cmms/v1/work-orders/{order}/parts",
            json={"item_id": "SP-SEAL", "quantity": 1, "warehouse": "WH1"},
        )
    )
    erp = apps.services["erp"]
    erp.stop()
    try:
        with technician(apps, world["p1"], world["site"]) as me:
            response = me.get(f"{API}/work-orders/{order}")
            work = me.get(f"{API}/my-work")
    finally:
        erp.start()
    assert response.status_code == 200, response.text
    assert [w["source"] for w in response.json()["warnings"]] == ["erp"]
    assert response.json()["parts"] == []  # unknown, not guessed
    assert response.json()["asset"]["asset_id"] == world["press"]
    assert work.status_code == 200
    assert "erp" in {w["source"] for w in work.json()["warnings"]}


# --- a completion is recorded whole or not at all ------------------------------------------------
# The technician API records parts, then labor, then the completion, each a CMMS call and
# transaction of its own; what CMMS's completion would refuse must be refused before the first line.
CORRECTIVE_DONE: dict[str, Any] = {
    "parts": [{"item_id": "SP-BEARING", "quantity": 2, "warehouse": "WH1"}],
    "labor": [{"hours": 1.5, "rate": "60.00"}],
    "cause_code": "BRG-WEAR",
    "correction_code": "REPLACE",
}


def _lines(order: dict[str, Any]) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    return (
        [(p["item_id"], p["quantity"]) for p in order["parts"]],
        [(lab["person_id"], lab["hours"]) for lab in order["labor"]],
    )


def test_a_refused_completion_writes_nothing_and_its_corrected_resend_posts_once(
    apps: Apps, world: dict[str, Any], cmms: httpx.Client
) -> None:
    order = seed.work_order(cmms, world["press"], world["p1"])["wo_id"]
    without_correction = {k: v for k, v in CORRECTIVE_DONE.items() if k != "correction_code"}
    with technician(apps, world["p1"], world["site"]) as me:
        seed.ok(me.post(f"{API}/work-orders/{order}/start"))
        before = seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}"))
        refused = me.post(
            f"{API}/work-orders/{order}/complete",
            json=without_correction,
            headers={"Idempotency-Key": f"k-1-{order}"},
        )
        problem(refused, 422, "codes-required")
        assert seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}")) == before  # not a line, not a version
        # The app adds the code and sends it as a new request, with a new key.
        done = seed.ok(
            me.post(
                f"{API}/work-orders/{order}/complete",
                json=CORRECTIVE_DONE,
                headers={"Idempotency-Key": f"k-2-{order}"},
            )
        )
    assert done["status"] == "technically_complete"
    stored = seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}"))
    assert _lines(stored) == ([("SP-BEARING", 2)], [(world["p1"], 1.5)])


def test_every_refusal_known_up_front_writes_nothing(
    apps: Apps, world: dict[str, Any], cmms: httpx.Client
) -> None:
    started = seed.work_order(cmms, world["press"], world["p1"])["wo_id"]
    not_started = seed.work_order(cmms, world["press"], world["p1"])["wo_id"]
    with technician(apps, world["p1"], world["site"]) as me:
        seed.ok(me.post(f"{API}/work-orders/{started}/start"))
        refusals: list[tuple[str, dict[str, Any], int, str]] = [
            (not_started, {}, 409, "illegal-transition"),  # released: parts yes, completion no
            (started, {"actual_end": "2001-01-01T00:00:00Z"}, 422, "invalid-date-time"),  # before start
            (started, {"failure_time": "1800-01-01T00:00:00Z"}, 422, "invalid-date-time"),
            (started, {"cause_code": None, "correction_code": None}, 422, "codes-required"),
        ]
        for order, change, status, slug in refusals:
            before = seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}"))
            answer = me.post(f"{API}/work-orders/{order}/complete", json={**CORRECTIVE_DONE, **change})
            problem(answer, status, slug)
            assert seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}")) == before, (change, slug)


class Faulty:
    """CMMS as one technician API reaches it; inside `breaking`, the calls it picks (by path and
    Idempotency-Key) break off as a dropped connection would, so a completion can fail midway."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.failing: Callable[[str, str], bool] | None = None

    @contextmanager
    def breaking(self, failing: Callable[[str, str], bool]) -> Iterator[None]:
        self.failing = failing
        try:
            yield
        finally:
            self.failing = None

    async def request(
        self, method: str, target: bytes, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        key = dict(headers).get(b"idempotency-key", b"").decode()
        if self.failing is not None and self.failing(target.decode(), key):
            raise Unavailable("connection dropped by the test")
        return await self.inner.request(method, target, headers, body)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def faulty(apps: Apps, in_process: Serve, database_url: DatabaseUrl) -> Iterator[tuple[InProcess, Faulty]]:
    """A technician API of its own whose CMMS calls the test can break."""
    systems = {name: apps.services[name] for name in ("erp", "qms", "cmms")}
    outbound = outbound_to("technician", systems)
    cmms_transport = Faulty(outbound.transports["cmms"])
    tech = in_process(
        "technician",
        database_url=database_url("sqlite", f"exp_faulty_technician_{seed.tag()}"),
        outbound=replace(outbound, transports={**outbound.transports, "cmms": cmms_transport}),
    )
    yield tech, cmms_transport
    tech.stop()


def test_a_completion_broken_off_midway_is_recorded_once_by_its_resend(
    faulty: tuple[InProcess, Faulty], world: dict[str, Any], cmms: httpx.Client
) -> None:
    tech, transport = faulty
    order = seed.work_order(cmms, world["press"], world["p1"])["wo_id"]
    done = {
        **CORRECTIVE_DONE,
        "parts": [*CORRECTIVE_DONE["parts"], {"item_id": "SP-SEAL", "quantity": 1, "warehouse": "WH1"}],
    }
    key = {"Idempotency-Key": f"midway-{order}"}
    with device(tech, world["p1"], world["site"]) as me:
        seed.ok(me.post(f"{API}/work-orders/{order}/start"))
        with transport.breaking(lambda path, idempotency_key: idempotency_key.endswith("-part-2")):
            broken = me.post(f"{API}/work-orders/{order}/complete", json=done, headers=key)
        problem(broken, 503, "upstream-unavailable")
        halfway = seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}"))
        assert (halfway["status"], _lines(halfway)) == ("in_progress", ([("SP-BEARING", 2)], []))
        # The same request again, with its key: the first part is replayed, not recorded again.
        seed.ok(me.post(f"{API}/work-orders/{order}/complete", json=done, headers=key))
    stored = seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}"))
    assert stored["status"] == "technically_complete"
    assert _lines(stored) == ([("SP-BEARING", 2), ("SP-SEAL", 1)], [(world["p1"], 1.5)])


def test_a_completion_whose_answer_was_lost_is_replayed_by_its_resend(
    faulty: tuple[InProcess, Faulty], world: dict[str, Any], cmms: httpx.Client
) -> None:
    """CMMS completed the order but the answer could not be composed (its asset unreadable): the
    order is no longer completable, yet the resend is the same completion and CMMS replays it."""
    tech, transport = faulty
    order = seed.work_order(cmms, world["press"], world["p1"])["wo_id"]
    key = {"Idempotency-Key": f"lost-{order}"}
    with device(tech, world["p1"], world["site"]) as me:
        seed.ok(me.post(f"{API}/work-orders/{order}/start"))
        with transport.breaking(lambda path, idempotency_key: path.startswith("/cmms/v1/assets/")):
            lost = me.post(f"{API}/work-orders/{order}/complete", json=CORRECTIVE_DONE, headers=key)
        problem(lost, 503, "upstream-unavailable")
        assert seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}"))["status"] == "technically_complete"
        again = seed.ok(me.post(f"{API}/work-orders/{order}/complete", json=CORRECTIVE_DONE, headers=key))
    assert again["status"] == "technically_complete"
    stored = seed.ok(cmms.get(f"/cmms/v1/work-orders/{order}"))
    assert _lines(stored) == ([("SP-BEARING", 2)], [(world["p1"], 1.5)])
