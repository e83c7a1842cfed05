"""Tryton's JSON-RPC over the network, on the kernel's pooled HTTP/1.1 client.

One method, `call(model, method, *args)`, as Tryton's own client sends it: `POST /<db>/rpc/`
with `{"id", "method": "model.<model>.<method>", "params": [*args, context]}` and the header
`Authorization: Session base64(login:user_id:session)`. A lost session (HTTP 401) logs in again
once. Tryton's answers become three exceptions the backend maps to problems:

- `TrytonRefused`: a user error (moving more than a location holds, a missing field, a state
  that does not allow the button): Tryton changed nothing.
- `TrytonDenied`: the connector's Tryton user lacks an access right (configuration).
- `TrytonUnavailable`: no answer, a broken connection or a timeout. The command may or may not
  have been applied: callers find out by looking for their key, never by assuming. Its
  `TrytonBusy`: Tryton rolled the call back after losing a race for a lock; nothing happened.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import logging
from decimal import Decimal
from typing import Any

import msgspec

from contracts.kit import http1

log = logging.getLogger("plantbridge.erp.tryton")
Domain = list[Any]


class TrytonError(Exception):
    pass


class TrytonRefused(TrytonError):
    """Tryton's UserError: the request is not acceptable to Tryton as it stands."""


class TrytonWarning(TrytonRefused):
    """Tryton's UserWarning: a check a user may accept (Tryton's client asks), named `name`."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


# The warnings the connector accepts, as a user of Tryton's client would: "invoice_similar" (an
# invoice of the same party and reference within 60 days, drafts included) guards against typing
# a supplier's invoice twice. The API bills each receipt once by its own checks, while a reference
# is the supplier's and repeats: an invoice of several orders, "return of lot …" of each return.
ACCEPTED_WARNINGS = frozenset({"invoice_similar"})


class TrytonDenied(TrytonError):
    """An access error: the connector's user may not do this in Tryton."""


class TrytonUnavailable(TrytonError):
    """Tryton did not answer (down, unreachable, timed out, or failing internally)."""


class TrytonBusy(TrytonUnavailable):
    """Tryton rolled the call back because another transaction held what it needed (a row lock
    taken NOWAIT by its stock reservation, a serialisation conflict) after its own retries:
    nothing happened, and the same call a moment later is safe."""


# What Tryton's database says when a transaction lost a race (PostgreSQL, SQLite).
_BUSY_WORDS = ("could not obtain lock", "could not serialize", "deadlock detected", "database is locked")


# Tryton's access errors are UserErrors too; their messages come from these catalogue entries.
_ACCESS_WORDS = ("not allowed", "access", "permission")


def _wire(value: Any) -> Any:
    """Tryton's JSON extensions for the types plain JSON cannot carry (msgspec would write
    dates and decimals as strings or floats, which Tryton reads as such)."""
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("__class__")
        if kind == "datetime":
            return dt.datetime(
                value["year"],
                value["month"],
                value["day"],
                value["hour"],
                value["minute"],
                value["second"],
                value.get("microsecond", 0),
            )
        if kind == "date":
            return dt.date(value["year"], value["month"], value["day"])
        if kind == "Decimal":
            return Decimal(value["decimal"])
        if kind == "bytes":
            return base64.b64decode(value["base64"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class TrytonClient:
    """A logged-in JSON-RPC session with one Tryton database."""

    def __init__(
        self,
        url: str,
        database: str,
        user: str,
        password: str,
        *,
        timeout: float = 10.0,
        connections: int = 8,
        language: str = "en",
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.user = user
        self.password = password
        self.language = language
        self.pool = http1.Pool(self.url, size=connections, connect_timeout=min(timeout, 5.0), timeout=timeout)
        self._path = f"/{database}/rpc/".encode()
        self._auth: bytes | None = None
        self._login_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self.context: dict[str, Any] = {}

    async def close(self) -> None:
        self.pool.close()

    async def call(self, model: str, method: str, *args: Any) -> Any:
        """`model.<model>.<method>(*args, context)` as the logged-in user."""
        return await self.rpc(f"model.{model}.{method}", [*args, self.context])

    async def rpc(self, method: str, params: list[Any]) -> Any:
        accepted: set[str] = set()
        while True:
            try:
                return await self._rpc(method, params)
            except TrytonWarning as warning:
                # Accepted once for this call, as Tryton's client does (`always` False: Tryton
                # deletes the acceptance with the call's commit); a warning seen again is refused.
                if warning.name.rpartition(".")[2] not in ACCEPTED_WARNINGS or warning.name in accepted:
                    raise
                accepted.add(warning.name)
                await self._rpc("model.res.user.warning.skip", [warning.name, False, self.context])

    async def _rpc(self, method: str, params: list[Any]) -> Any:
        for attempt in range(2):
            auth = await self._session()
            status, body = await self._post(method, params, auth)
            if status == 401 and attempt == 0:
                # The server forgot the session (restart, expiry): log in once more.
                async with self._login_lock:
                    if self._auth == auth:
                        self._auth = None
                continue
            return self._result(method, status, body)
        raise TrytonDenied(f"Tryton refused the session of {self.user!r} for {method}")

    async def _session(self) -> bytes:
        if self._auth is not None:
            return self._auth
        async with self._login_lock:
            if self._auth is None:
                status, body = await self._post(
                    "common.db.login", [self.user, {"password": self.password}, self.language], None
                )
                if status in (401, 403):
                    raise TrytonDenied(f"Tryton refused the login of {self.user!r}")
                user_id, session = self._result("common.db.login", status, body)[:2]
                token = base64.b64encode(f"{self.user}:{user_id}:{session}".encode())
                self._auth = b"Session " + token
                self.context = await self._user_context(self._auth)
            return self._auth

    async def _user_context(self, auth: bytes) -> dict[str, Any]:
        # What Tryton's client sends with every call: the user's company, language, dates.
        status, body = await self._post("model.res.user.get_preferences", [True, {}], auth)
        preferences: dict[str, Any] = self._result("get_preferences", status, body)
        return preferences

    async def _post(self, method: str, params: list[Any], auth: bytes | None) -> tuple[int, bytes]:
        payload = msgspec.json.encode({"id": next(self._ids), "method": method, "params": _wire(params)})
        headers = [(b"content-type", b"application/json")]
        if auth is not None:
            headers.append((b"authorization", auth))
        try:
            status, _headers, body = await self.pool.request("POST", self._path, headers, payload)
        except (http1.Unavailable, TimeoutError, OSError) as exc:
            raise TrytonUnavailable(f"Tryton at {self.url} did not answer {method}: {exc!r}") from exc
        return status, body

    def _result(self, method: str, status: int, body: bytes) -> Any:
        if status == 429:
            raise TrytonUnavailable(f"Tryton is rate limiting {method}")
        if status in (401, 403):
            raise TrytonDenied(f"Tryton denied {method} (HTTP {status})")
        if status != 200:
            raise TrytonUnavailable(f"Tryton answered HTTP {status} to {method}")
        try:
            answer = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise TrytonUnavailable(f"Tryton sent no JSON for {method}") from exc
        error = answer.get("error")
        if error is None:
            return _decode(answer.get("result"))
        kind, detail = (error[0], error[1]) if isinstance(error, list) and len(error) == 2 else (error, "")
        if kind == "UserError":
            message = " ".join(str(part) for part in detail[:2] if part).strip()
            if any(word in message.lower() for word in _ACCESS_WORDS):
                raise TrytonDenied(message)
            raise TrytonRefused(message)
        if kind == "UserWarning":
            message = " ".join(str(part) for part in detail[1:] if part).strip()
            raise TrytonWarning(message, name=str(detail[0]))
        if kind == "ConcurrencyException":
            raise TrytonRefused(str(detail))
        if any(word in str(kind).lower() for word in _BUSY_WORDS):
            raise TrytonBusy(f"Tryton was busy with a concurrent change on {method}: {str(kind)[:200]}")
        log.error("Tryton failed on %s: %s", method, str(kind)[:500])
        raise TrytonUnavailable(f"Tryton failed on {method}: {str(kind)[:200]}")


class Wizard:
    """A Tryton wizard driven over RPC as Tryton's client drives it: each button sends the shown
    form's values (its defaults, with ours over them) and runs the state it names."""

    def __init__(self, client: TrytonClient, name: str, **context: Any) -> None:
        self.client, self.name = client, name
        self.context = context  # e.g. active_model, active_id, active_ids: the records it runs on
        self.session = 0
        self.shown: dict[str, Any] = {}

    async def open(self) -> None:
        self.session, start, _end = await self.client.rpc(f"wizard.{self.name}.create", [self._context()])
        await self._execute({}, start)

    async def press(self, state: str, values: dict[str, Any] | None = None) -> None:
        form = self.shown.get("view")
        data = {}
        if form:
            defaults = {k: v for k, v in form.get("defaults", {}).items() if not k.endswith(".")}
            data = {form["state"]: {**defaults, **(values or {})}}
        await self._execute(data, state)

    async def close(self) -> None:
        await self.client.rpc(f"wizard.{self.name}.delete", [self.session, self._context()])

    def _context(self) -> dict[str, Any]:
        return {**self.client.context, **self.context}

    async def _execute(self, data: dict[str, Any], state: str) -> None:
        self.shown = await self.client.rpc(
            f"wizard.{self.name}.execute", [self.session, data, state, self._context()]
        )
