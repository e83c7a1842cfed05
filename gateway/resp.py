"""A minimal pipelined Redis client for the one script the rate limiter runs on every request.

redis-py's asyncio client spends several times this client's CPU per EVALSHA (connection pool
checkout, command packing, bookkeeping in Python). This writes RESP directly on one long-lived
connection and lets hiredis parse the replies; concurrent requests pipeline naturally because
Redis answers in order. The figures and when to drop this: docs/decisions/resp-client.md.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import hiredis


class RedisUnavailable(ConnectionError):
    pass


def encode(*parts: bytes | str | int) -> bytes:
    """One command in RESP (hiredis packs it in C)."""
    # The stub types the argument as a 1-tuple; it takes any number of parts.
    return cast(bytes, hiredis.pack_command(parts))  # type: ignore[arg-type]


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if self.pending:
                future = self.pending.popleft()
                if not future.done():
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(RedisUnavailable("connection to Redis lost"))

    def send(self, command: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append(future)
        # Commands from every request in this loop turn go out in one write (one syscall).
        if not self.outgoing:
            loop.call_soon(self._flush)
        self.outgoing.append(command)
        return future

    def _flush(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class ScriptRunner:
    """Runs one Lua script by EVALSHA (EVAL once if Redis has not seen it) over one connection."""

    def __init__(self, url: str, script: str, *, timeout: float = 1.0, connect_timeout: float = 0.5) -> None:
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError("the fast Redis client speaks plain redis:// only")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.password = unquote(parts.password) if parts.password else None
        self.username = unquote(parts.username) if parts.username else None
        self.db = int(parts.path.lstrip("/") or 0)
        self.script = script.encode()
        self.sha = hashlib.sha1(self.script).hexdigest().encode()
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._conn: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def __call__(self, keys: list[str], args: list[bytes | str | int]) -> list[int]:
        conn = await self._connection()
        reply = await self._await(conn, conn.send(encode(b"EVALSHA", self.sha, len(keys), *keys, *args)))
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            reply = await self._await(conn, conn.send(encode(b"EVAL", self.script, len(keys), *keys, *args)))
        if isinstance(reply, hiredis.ReplyError):
            raise RedisUnavailable(str(reply))
        return cast(list[int], reply)

    async def _await(self, conn: _Protocol, future: asyncio.Future[Any]) -> Any:
        timer = asyncio.get_running_loop().call_later(self.timeout, _expire, future, conn)
        try:
            return await future
        finally:
            timer.cancel()

    async def _connection(self) -> _Protocol:
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            current = self._conn
            if current is not None and not current.closed:
                return current
            loop = asyncio.get_running_loop()
            try:
                _, fresh = await asyncio.wait_for(
                    loop.create_connection(_Protocol, self.host, self.port), self.connect_timeout
                )
            except (OSError, TimeoutError) as exc:
                raise RedisUnavailable(f"cannot connect to Redis at {self.host}:{self.port}: {exc}") from exc
            setup = []
            if self.password:
                auth = (b"AUTH", self.username, self.password) if self.username else (b"AUTH", self.password)
                setup.append(fresh.send(encode(*[a for a in auth if a is not None])))
            if self.db:
                setup.append(fresh.send(encode(b"SELECT", self.db)))
            for future in setup:
                reply = await self._await(fresh, future)
                if isinstance(reply, hiredis.ReplyError):
                    fresh.close()
                    raise RedisUnavailable(str(reply))
            self._conn = fresh
            return fresh

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _expire(future: asyncio.Future[Any], conn: _Protocol) -> None:
    if not future.done():
        # Replies arrive in order, so a lost one would shift every later reply: start over.
        conn.close()
        future.set_exception(TimeoutError("Redis did not answer in time"))
