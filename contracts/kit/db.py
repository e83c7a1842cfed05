"""Async SQLAlchemy engine and sessions, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contracts.kit import sqlite_inline


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
        # Looked up when called: with tracing on, OpenTelemetry's SQLAlchemy instrumentation has
        # wrapped it (contracts/kit/tracing_sdk.py), and the engine's statements become spans.
        self.engine: AsyncEngine = sqlalchemy_asyncio.create_async_engine(self.url, **engine_options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on any exception."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a commit reaches the disk before the request is answered. NORMAL (WAL) can roll back
    # the last commits after a power cut, when other services already acted on them.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={sqlite_inline.BUSY_TIMEOUT_MS}")
    cursor.close()
