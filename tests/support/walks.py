"""Walking a service's state machines over real HTTP.

A `Walk` says how to create a record, which request makes each action, and which actions lead
from creation to each state. `check_transition` drives one edge; `check_refusals` tries every
refused action in one state and checks each is a 409 naming that state which changes nothing
(the record, its version and the events it staged stay as they were).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.kit.states import StateMachine
from tests.support.db import events
from tests.support.http import Body, ok, problem


@dataclass(frozen=True)
class Walk:
    api: str
    resource: str
    key: str
    create: Callable[[httpx.Client], httpx.Response]
    # action -> (path suffix, body); actions outside the machine (e.g. costs-posted) may be steps too
    actions: dict[str, tuple[str, Body]]
    paths: dict[str, list[str]]
    changed_event: str
    machine: StateMachine[Any] = field(repr=False)
    state_field: str = "status"

    def act(self, http: httpx.Client, record_id: str, action: str, **headers: str) -> httpx.Response:
        suffix, body = self.actions[action]
        return http.post(f"{self.api}/{self.resource}/{record_id}/{suffix}", json=body, headers=headers)

    def read(self, http: httpx.Client, record_id: str) -> Body:
        return ok(http.get(f"{self.api}/{self.resource}/{record_id}"))

    def record_in(self, http: httpx.Client, state: str) -> Body:
        record = ok(self.create(http), 201)
        for action in self.paths[state]:
            record = ok(self.act(http, record[self.key], action))
        assert record[self.state_field] == state
        return record


async def check_transition(
    walk: Walk, http: httpx.Client, database_url: str, source: str, action: str, target: str
) -> Body:
    record = walk.record_in(http, source)
    record_id = record[walk.key]
    before = len(await events(database_url, record_id))
    moved = walk.act(http, record_id, action, **{"If-Match": f'"{record["version"]}"'})
    body = ok(moved)
    assert body[walk.state_field] == target
    assert moved.headers["etag"] == f'"{body["version"]}"'
    assert body["version"] > record["version"]
    if "allowed_actions" in record:
        assert action in record["allowed_actions"]
    staged = await events(database_url, record_id)
    kind, data = staged[before]
    assert kind == walk.changed_event
    assert (data[f"from_{walk.state_field}"], data[f"to_{walk.state_field}"]) == (source, target)
    return body


async def check_refusals(walk: Walk, http: httpx.Client, database_url: str, state: str) -> None:
    record = walk.record_in(http, state)
    record_id = record[walk.key]
    refused = [action for s, action in walk.machine.refusals() if s == state]
    staged = len(await events(database_url, record_id))
    for action in refused:
        body = problem(walk.act(http, record_id, action), 409, "illegal-transition")
        assert body["current_state"] == state
        assert f"is {state};" in body["detail"]
    after = walk.read(http, record_id)
    assert (after[walk.state_field], after["version"]) == (state, record["version"])
    if "allowed_actions" in after:
        assert sorted(after["allowed_actions"]) == sorted(a for s, a, _ in walk.machine.edges() if s == state)
    assert len(await events(database_url, record_id)) == staged
