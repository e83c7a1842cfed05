"""A read request's transaction is rolled back whatever its handler did, and gives its
connection back (contracts/kit/unit_of_work.py); a write's is committed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text

from contracts.kit.asgi import Message, Receive, Scope, Send
from contracts.kit.db import Database
from contracts.kit.unit_of_work import SESSION_KEY, UnitOfWorkMiddleware


async def _writes_a_row(scope: Scope, receive: Receive, send: Send) -> None:
    session = scope["state"][SESSION_KEY]
    await session.execute(text("INSERT INTO marks (method) VALUES (:m)"), {"m": scope["method"]})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok", "more_body": False})


async def _call(middleware: UnitOfWorkMiddleware, runtime: Any, method: str) -> int:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": "/marks",
        "headers": [],
        "state": {},
        "litestar_app": SimpleNamespace(state={"runtime": runtime}),
    }
    await middleware(scope, receive, send)
    return int(sent[0]["status"])


async def test_reads_are_rolled_back_and_writes_committed(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/uow.db")  # one pooled connection, as services run
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE marks (method TEXT)"))
    settings = SimpleNamespace(max_body_bytes=1024, idempotency_ttl_hours=1)
    runtime = SimpleNamespace(db=db, settings=settings)
    middleware = UnitOfWorkMiddleware(_writes_a_row)
    try:
        for method in ("GET", "HEAD", "GET", "POST"):  # a connection kept by a read would block the rest
            assert await _call(middleware, runtime, method) == 200
        async with db.transaction() as session:
            rows = (await session.execute(text("SELECT method FROM marks"))).scalars().all()
        assert rows == ["POST"]
    finally:
        await db.dispose()
