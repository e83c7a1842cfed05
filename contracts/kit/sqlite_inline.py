"""aiosqlite's connection interface over `sqlite3`, called on the event loop's own thread.

aiosqlite runs every call on a helper thread. On a local SQLite file in WAL mode a statement
takes microseconds, while each hop to that thread and back costs ~50 µs and SQLAlchemy makes
three or four hops per statement; with several service processes on two cores the hops, not
SQLite, were the bill (measured: 376 → 198 µs per INSERT through the ORM session).

Running the call inline blocks the loop for the statement's duration, which is fine because
each service's database has a single pooled connection anyway (see `contracts.kit.db`): a
second coroutine waits for that connection either way. What must stay short is a wait for
another process's write lock, hence `BUSY_TIMEOUT_MS`.

Plugged in through SQLAlchemy's documented `async_creator` hook, so the dialect, SQL
compilation and the pool are SQLAlchemy's own `sqlite+aiosqlite`. Today's figures and when
to drop this: docs/decisions/sqlite-inline.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

# Another process (the gateway's register-client CLI, a migration) may briefly hold the write
# lock; waiting blocks this loop, so do not wait long.
BUSY_TIMEOUT_MS = 5_000


class Cursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        self._cursor.executemany(sql, seq_of_parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None


class Connection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        # SQLAlchemy's aiosqlite adapter reads this to tell an open connection from a closed one.
        self._connection: sqlite3.Connection | None = connection

    def cursor(self) -> Cursor:
        return Cursor(self._conn.cursor())

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """What SQLAlchemy calls to terminate a connection it gave up on."""
        self._connection = None
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def creator(path: str) -> Callable[[], Awaitable[Connection]]:
    async def connect() -> Connection:
        # The pool may close a connection from another thread at interpreter exit.
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        return Connection(connection)

    return connect
