"""One transaction per API request, with Idempotency-Key handling inside it.

The idempotency record is written in the same transaction as the change it answers for, so a
crash can never leave a change without its record (a retry would post twice) or a record
without its change. Semantics follow draft-ietf-httpapi-idempotency-key-header: the same key
and body replays the first response; the same key with another body is 422; a repeat while
the first is still running is 409.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy import Text, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession

from contracts.kit.asgi import ASGIApp, Message, Receive, Scope, Send
from contracts.kit.db import Database
from contracts.kit.problems import problem_bytes
from contracts.kit.tables import idempotency_keys

SESSION_KEY = "pb.session"
PRINCIPAL_KEY = "pb.principal"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REPLAYED_HEADERS = {"content-type", "location", "etag"}
# Built once: every write request with a key runs these, and building costs more than running.
_PG_KEY_LOCK = select(func.pg_try_advisory_xact_lock(func.hashtextextended(bindparam("lock", type_=Text), 0)))
_FIND_KEY = select(idempotency_keys).where(
    idempotency_keys.c.principal == bindparam("who"), idempotency_keys.c.key == bindparam("what")
)
_INSERT_KEY = idempotency_keys.insert()
# The answer to a repeat while the first request with its key still runs (a caller asks again later).
KEY_IN_USE = "idempotency-key-in-use"


def provide_session(request: Request[Any, Any, Any]) -> AsyncSession:
    """Litestar dependency: the request's session, inside its one transaction."""
    session: AsyncSession = request.scope["state"][SESSION_KEY]
    return session


def principal_id(scope: Scope) -> str:
    principal = scope.get("state", {}).get(PRINCIPAL_KEY)
    return str(getattr(principal, "client_id", "") or "anonymous")


class _Recorder:
    def __init__(self) -> None:
        self.start: Message | None = None
        self.body: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))

    @property
    def status(self) -> int:
        return int(self.start["status"]) if self.start else 500

    async def flush(self, send: Send) -> None:
        if self.start is None:
            return
        await send(self.start)
        await send({"type": "http.response.body", "body": b"".join(self.body), "more_body": False})


async def _send_simple(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_problem(send: Send, status: int, slug: str, title: str, detail: str) -> None:
    await _send_simple(
        send,
        status,
        problem_bytes(status, slug, title, detail),
        [(b"content-type", b"application/problem+json")],
    )


class UnitOfWorkMiddleware:
    """Reads its database and limits from the app's runtime (`app.state.runtime`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = scope["litestar_app"].state["runtime"]
        await _Exchange(
            self.app,
            runtime.db,
            runtime.settings.max_body_bytes,
            timedelta(hours=runtime.settings.idempotency_ttl_hours),
        ).run(scope, receive, send)


class _Exchange:
    def __init__(self, app: ASGIApp, db: Database, max_body_bytes: int, ttl: timedelta) -> None:
        self.app = app
        self.db = db
        self.max_body_bytes = max_body_bytes
        self.ttl = ttl

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        raw_key = headers.get(b"idempotency-key")
        key = raw_key.decode("latin-1").strip().strip('"') if raw_key is not None else None
        if key is not None and scope["method"] in SAFE_METHODS:
            key = None
        body: bytes | None = None
        if key is not None:
            if not 1 <= len(key) <= 255:
                await _send_problem(
                    send,
                    400,
                    "idempotency-key-invalid",
                    "Invalid Idempotency-Key",
                    "Idempotency-Key must be 1 to 255 characters.",
                )
                return
            body = await _read_body(receive, self.max_body_bytes)
            if body is None:
                await _send_problem(
                    send,
                    413,
                    "payload-too-large",
                    "Request body too large",
                    f"Request bodies are limited to {self.max_body_bytes} bytes.",
                )
                return

        if scope["method"] in SAFE_METHODS:
            async with self.db.sessions() as session:
                _bind(scope, session)
                # A read changes nothing, so its answer need not wait for the commit decision:
                # it goes out as it is made (a streamed download is never held in memory). Its
                # transaction begins with its first statement and ends, rolled back, when the
                # session closes: an explicit begin and rollback would only cost two more
                # greenlet round trips and the ORM's rollback bookkeeping.
                await self.app(scope, receive, send)
            return
        recorder = _Recorder()
        # The transaction begins with the first statement, as a read's does: an explicit begin
        # would be one more greenlet round trip. `Database.finish` commits or rolls it back.
        session = self.db.sessions()
        _bind(scope, session)
        try:
            if key is not None and body is not None:
                principal = principal_id(scope)
                fingerprint = _fingerprint(scope, body)
                if await self._answer_repeat(session, send, principal, key, fingerprint):
                    await self.db.finish(session, commit=False)
                    return
                await self.app(scope, _replay_body(body, receive), recorder.send)
                if recorder.status < 400:
                    await _remember(session, principal, key, fingerprint, recorder, self.ttl)
            else:
                await self.app(scope, receive, recorder.send)
        except BaseException:
            await self.db.finish(session, commit=False)
            raise
        await self.db.finish(session, commit=recorder.status < 400)
        await recorder.flush(send)

    async def _answer_repeat(
        self, session: AsyncSession, send: Send, principal: str, key: str, fingerprint: str
    ) -> bool:
        locked, row = await session.run_sync(_stored_answer, principal, key, not self.db.is_sqlite)
        if not locked:
            await _send_problem(
                send,
                409,
                KEY_IN_USE,
                "Request still in progress",
                "A request with this Idempotency-Key is still being processed.",
            )
            return True
        if row is None:
            return False
        if row.fingerprint != fingerprint:
            await _send_problem(
                send,
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "This Idempotency-Key was used with a different request.",
            )
            return True
        stored = [(k.encode(), v.encode()) for k, v in msgspec.json.decode(row.headers)]
        stored.append((b"idempotent-replayed", b"true"))
        await _send_simple(send, row.status_code, row.body, stored)
        return True


def _bind(scope: Scope, session: AsyncSession) -> None:
    scope.setdefault("state", {})[SESSION_KEY] = session
    # Who acts in this transaction, for the audit trail (contracts/kit/audit.py).
    session.info[PRINCIPAL_KEY] = scope["state"].get(PRINCIPAL_KEY)


def _stored_answer(session: SyncSession, principal: str, key: str, lock: bool) -> tuple[bool, Any]:
    """Whether the key is free to use (False: a concurrent request holds it) and the answer kept
    for it, if any and not expired (an expired one is deleted). Core statements in one greenlet:
    no ORM entity is involved."""
    db = session.connection()
    # SQLite already serialises writers; PostgreSQL needs a lock so a concurrent repeat is told
    # 409 instead of racing the first request.
    if lock and not db.scalar(_PG_KEY_LOCK, {"lock": f"{principal}\n{key}"}):
        return False, None
    row = db.execute(_FIND_KEY, {"who": principal, "what": key}).one_or_none()
    if row is not None and _aware(row.expires_at) <= datetime.now(UTC):
        db.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.principal == principal, idempotency_keys.c.key == key
            )
        )
        return True, None
    return True, row


async def purge_expired_keys(db: Database) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            delete(idempotency_keys).where(idempotency_keys.c.expires_at < datetime.now(UTC))
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def _remember(
    session: AsyncSession, principal: str, key: str, fingerprint: str, recorder: _Recorder, ttl: timedelta
) -> None:
    assert recorder.start is not None
    kept = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in recorder.start.get("headers", [])
        if k.decode("latin-1").lower() in _REPLAYED_HEADERS
    ]
    now = datetime.now(UTC)
    values = {
        "principal": principal,
        "key": key,
        "fingerprint": fingerprint,
        "status_code": recorder.status,
        "headers": msgspec.json.encode(kept).decode(),
        "body": b"".join(recorder.body),
        "created_at": now,
        "expires_at": now + ttl,
    }
    await session.run_sync(lambda sync: sync.connection().execute(_INSERT_KEY, values))


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay_body(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; we only ever store UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["SESSION_KEY", "UnitOfWorkMiddleware", "provide_session", "purge_expired_keys"]


# What route handlers declare to receive the request's session (the `session` dependency).
Session = NamedDependency[AsyncSession]
