"""A write's transaction and its Idempotency-Key (contracts/kit/unit_of_work.py), on SQLite and
PostgreSQL: committed once with the answer kept, replayed without running again, refused when
the key comes with another request, nothing kept for a refusal; on PostgreSQL a repeat that
arrives while the first is still running is told 409."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from sqlalchemy import Column, MetaData, String, Table, func, select

from contracts.kit.asgi import Message, Receive, Scope, Send
from contracts.kit.db import Database
from contracts.kit.tables import idempotency_keys
from contracts.kit.tables import metadata as kit_metadata
from contracts.kit.unit_of_work import KEY_IN_USE, SESSION_KEY, UnitOfWorkMiddleware

marks = Table("uow_marks", MetaData(), Column("body", String))


class Handler:
    """Writes the request's body as a row and answers 201, or 409 for a body that says so; a
    request waits at `gate` while it is closed."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.inside = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = (await receive())["body"]
        session = scope["state"][SESSION_KEY]
        await session.execute(marks.insert().values(body=body.decode()))
        self.inside.set()
        await self.gate.wait()
        status = 409 if body == b"refuse" else 201
        await send({"type": "http.response.start", "status": status, "headers": [(b"x-made", b"1")]})
        await send({"type": "http.response.body", "body": b"made " + body, "more_body": False})


@pytest.fixture
async def db(backend: str, database_url: Callable[[str, str], str]) -> AsyncIterator[Database]:
    database = Database(database_url(backend, f"uow_{uuid.uuid4().hex[:10]}"))
    async with database.engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
        await conn.run_sync(marks.metadata.create_all)
    yield database
    await database.dispose()


async def post(
    db: Database, handler: Handler, body: bytes, key: str
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[Message] = []
    given = False

    async def receive() -> Message:
        nonlocal given
        if given:
            await asyncio.Event().wait()  # a client that sends nothing more
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    runtime = SimpleNamespace(db=db, settings=SimpleNamespace(max_body_bytes=1024, idempotency_ttl_hours=1))
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/marks",
        "query_string": b"",
        "headers": [(b"idempotency-key", key.encode())],
        "state": {},
        "litestar_app": SimpleNamespace(state={"runtime": runtime}),
    }
    await UnitOfWorkMiddleware(handler)(scope, receive, send)
    return int(sent[0]["status"]), dict(sent[0]["headers"]), sent[1]["body"]


async def written(db: Database) -> tuple[list[str], int]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(marks.c.body))).scalars().all()
        keys = await conn.scalar(select(func.count()).select_from(idempotency_keys))
    return list(rows), int(keys or 0)


async def test_a_write_is_committed_once_and_its_answer_replayed(db: Database) -> None:
    handler = Handler()
    status, headers, body = await post(db, handler, b"one", "K1")
    assert (status, headers[b"x-made"], body) == (201, b"1", b"made one")
    again = await post(db, handler, b"one", "K1")
    assert (again[0], again[2]) == (201, b"made one")
    assert again[1][b"idempotent-replayed"] == b"true"
    assert handler.calls == 1
    other = await post(db, handler, b"two", "K1")
    assert other[0] == 422
    assert msgspec.json.decode(other[2])["type"].endswith("idempotency-key-reused")
    assert await written(db) == (["one"], 1)


async def test_a_refused_write_keeps_nothing_and_may_be_sent_again(db: Database) -> None:
    handler = Handler()
    assert (await post(db, handler, b"refuse", "K2"))[0] == 409
    assert await written(db) == ([], 0)
    assert (await post(db, handler, b"refuse", "K2"))[0] == 409
    assert handler.calls == 2  # not a replay: nothing was kept for the refusal


# SQLite has one writer at a time: there a repeat waits for the first to end instead.
@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_repeat_while_the_first_still_runs_is_told_409(db: Database) -> None:
    handler = Handler()
    handler.gate.clear()
    first = asyncio.create_task(post(db, handler, b"one", "K3"))
    await asyncio.wait_for(handler.inside.wait(), 10)
    repeat = await asyncio.wait_for(post(db, handler, b"one", "K3"), 10)
    assert repeat[0] == 409
    assert msgspec.json.decode(repeat[2])["type"].endswith(KEY_IN_USE)
    handler.gate.set()
    assert (await first)[0] == 201
    assert (await post(db, handler, b"one", "K3"))[1][b"idempotent-replayed"] == b"true"
    assert handler.calls == 1
    assert await written(db) == (["one"], 1)
