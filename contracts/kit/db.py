"""Async SQLAlchemy engine and sessions, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.util import greenlet_spawn

from contracts.kit import signals, sqlite_inline

T = TypeVar("T")


class Database:
    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            # SQLite has one writer: a single pooled connection serialises transactions
            # in-process, so a request never meets "database is locked".
            engine_options.setdefault("pool_size", 1)
            engine_options.setdefault("max_overflow", 0)
            # Statements run on the loop's thread: see contracts.kit.sqlite_inline.
            engine_options.setdefault("async_creator", sqlite_inline.creator(self.url.database or ":memory:"))
        else:
            engine_options.setdefault("pool_size", 10)
            engine_options.setdefault("pool_pre_ping", True)
        # JSON columns (flow data and results, audit changes, lists on records) through msgspec,
        # as the wire is: several times faster than the json module on every row written or read.
        engine_options.setdefault("json_serializer", _json_text)
        engine_options.setdefault("json_deserializer", msgspec.json.decode)
        # Looked up when called: with tracing on, OpenTelemetry's SQLAlchemy instrumentation has
        # wrapped it (contracts/kit/tracing_sdk.py), and the engine's statements become spans.
        self.engine: AsyncEngine = sqlalchemy_asyncio.create_async_engine(self.url, **engine_options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(self.engine.sync_engine.pool, "checkin", signals.forget)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on any exception."""
        if not self.is_sqlite:
            async with self.sessions() as session, session.begin():
                yield session
            return
        session = self.sessions()
        try:
            yield session
        except BaseException:
            await session.close()  # rolls back
            raise
        await self.finish(session, commit=True)

    async def finish(self, session: AsyncSession, *, commit: bool) -> None:
        """End a session's transaction, begun by its first statement: commit it (`commit`) or
        roll it back, and close the session."""
        if not commit:
            # Rolls back; shielded as AsyncSession's own exit is, so a second cancellation
            # cannot keep the connection from the pool.
            await asyncio.shield(session.close())
            return
        if not self.is_sqlite:
            try:
                await session.commit()
            finally:
                await asyncio.shield(session.close())
            return
        # On the inline SQLite driver nothing here ever waits, so the commit and the close run
        # in one greenlet (AsyncSession's begin, commit and close are a greenlet each, and its
        # close a task of its own, against a cancellation that cannot land where nothing
        # suspends): ~40 µs less per transaction (docs/decisions/event-backbone-cpu.md).
        await session.run_sync(_commit_and_close)
        # ... and yield once, as that task did: a loop of transactions must not starve the
        # other tasks (requests, the relay, consumers).
        await asyncio.sleep(0)

    async def run(self, work: Callable[[Connection], T], *, relaxed: bool = False) -> T:
        """`work` on a Core connection in one transaction (committed when it returns, rolled back
        when it raises), the whole of it in one greenlet: for hot paths of Core statements. Every
        `await` on an `AsyncConnection` (checkout, each statement, commit, close) is a greenlet
        switch and some a task of their own; here there is one (docs/decisions/db-run.md).
        `relaxed`: the commit may be lost in a power cut, as with `relaxed()`."""
        return await greenlet_spawn(self._in_transaction, work, relaxed)

    def _in_transaction(self, work: Callable[[Connection], T], relaxed: bool) -> T:
        with self.engine.sync_engine.connect() as conn:
            done = self._committed(conn, work, relaxed)
            # Only once committed: after a failure `conn.info` may connect again (the work
            # invalidated the connection) and hide the error; the pool drops those marks at
            # check-in (`signals.forget`). Not reached either when the relaxed SQLite path fails
            # after its commit, restoring the durable setting: its marks are lost, workers poll.
            marked = signals.taken(conn.info)
        signals.fire(marked)
        return done

    def _committed(self, conn: Connection, work: Callable[[Connection], T], relaxed: bool) -> T:
        if not relaxed or not self.is_sqlite:
            with conn.begin():
                if relaxed:
                    conn.exec_driver_sql(_PG_RELAXED)
                return work(conn)
        _sqlite_synchronous(conn, _SQLITE_RELAXED)
        try:
            with conn.begin():
                return work(conn)
        finally:
            _durable_again(conn)

    @asynccontextmanager
    async def relaxed(self) -> AsyncIterator[AsyncConnection]:
        """A Core transaction whose commit may be lost in a power cut, never torn: for bookkeeping
        that is redone safely when lost (the relay marking what it sent), never for a change
        another system may act on. It spares an fsync that would block the event loop (SQLite
        `synchronous=NORMAL` for this commit; PostgreSQL `synchronous_commit = off`). A later
        durable commit makes it durable too: both logs are written in order."""
        async with self.engine.connect() as conn:
            if not self.is_sqlite:
                async with conn.begin():
                    await conn.exec_driver_sql(_PG_RELAXED)
                    yield conn
                return
            await conn.run_sync(_sqlite_synchronous, _SQLITE_RELAXED)
            try:
                async with conn.begin():
                    yield conn
            finally:
                await conn.run_sync(_durable_again)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


_PG_RELAXED = "SET LOCAL synchronous_commit TO OFF"
_SQLITE_RELAXED = "PRAGMA synchronous=NORMAL"
# FULL: a commit reaches the disk before the request is answered. NORMAL (WAL) can roll back the
# last commits after a power cut, when other services already acted on them.
_SQLITE_DURABLE = "PRAGMA synchronous=FULL"


def _json_text(value: Any) -> str:
    return _JSON.encode(value).decode()


def _base_value(value: Any) -> Any:
    """What the json module wrote for a subclass of str, int or float (an id type such as ERP's
    `Operation`): its plain value. msgspec encodes only the base types themselves."""
    for base in (str, int, float):
        if isinstance(value, base):
            return base(value)
    raise TypeError(f"objects of type {type(value).__name__} are not JSON serializable")


_JSON = msgspec.json.Encoder(enc_hook=_base_value)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()


def _sqlite_synchronous(conn: Connection, pragma: str) -> None:
    # SQLite takes the setting outside a transaction only; sqlite3 opens one at the first write,
    # so the PRAGMA goes first and the durable setting comes back after the commit.
    conn.exec_driver_sql(pragma)
    conn.commit()


def _durable_again(conn: Connection) -> None:
    try:
        _sqlite_synchronous(conn, _SQLITE_DURABLE)
    except BaseException:
        conn.invalidate()  # never pool a connection whose commits are not durable
        raise


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(_SQLITE_DURABLE)
    cursor.execute(f"PRAGMA busy_timeout={sqlite_inline.BUSY_TIMEOUT_MS}")
    cursor.close()
