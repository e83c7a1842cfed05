"""The console's login session: the gateway's access token in a sealed, HttpOnly, SameSite=Strict
cookie, and a per-session CSRF token every form must send back."""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import time
from typing import Any

import httpx
import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from litestar import Request
from litestar.datastructures import Cookie

from contracts.kit.app import runtime_of
from contracts.kit.auth import AuthError, Principal, check_scopes
from experience_apis.operations.settings import OperationsSettings

COOKIE = "pb_console"
PATH = "/operations/console"
_AAD = b"plantbridge-console-v1"


class ConsoleSession(msgspec.Struct, kw_only=True):
    csrf: str
    expires_at: int
    token: str = ""  # empty before login: the session then only carries the login form's CSRF token
    client_id: str = ""


class Sealer:
    """AES-GCM: the cookie can be neither read nor changed without the key."""

    def __init__(self, settings: OperationsSettings) -> None:
        key = bytes.fromhex(settings.console_secret) if settings.console_secret else os.urandom(32)
        if len(key) != 32:
            raise ValueError("OPERATIONS_CONSOLE_SECRET must be 64 hex digits (32 bytes)")
        self._aead = AESGCM(key)
        self.max_age = settings.console_session_minutes * 60
        self.secure = settings.console_secure_cookie

    def seal(self, session: ConsoleSession) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, msgspec.json.encode(session), _AAD)
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, value: str | None) -> ConsoleSession | None:
        if not value:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:12], raw[12:], _AAD)
            session = msgspec.json.decode(plain, type=ConsoleSession)
        except (ValueError, InvalidTag, msgspec.DecodeError, msgspec.ValidationError):
            return None
        return session if session.expires_at > time.time() else None

    def cookie(self, session: ConsoleSession) -> Cookie:
        return Cookie(
            key=COOKIE,
            value=self.seal(session),
            path=PATH,
            max_age=max(1, session.expires_at - int(time.time())),
            httponly=True,
            secure=self.secure,
            samesite="strict",
        )

    def cleared(self) -> Cookie:
        return Cookie(
            key=COOKIE, value="", path=PATH, max_age=0, httponly=True, secure=self.secure, samesite="strict"
        )

    def fresh(self, *, token: str = "", client_id: str = "", lifetime: int | None = None) -> ConsoleSession:
        seconds = min(self.max_age, lifetime) if lifetime else self.max_age
        return ConsoleSession(
            csrf=secrets.token_urlsafe(24),
            expires_at=int(time.time()) + seconds,
            token=token,
            client_id=client_id,
        )


def session_of(request: Request[Any, Any, Any], sealer: Sealer) -> ConsoleSession | None:
    return sealer.open(request.cookies.get(COOKIE))


async def principal_of(request: Request[Any, Any, Any], session: ConsoleSession | None) -> Principal | None:
    """The person behind the session, from the token verified as every API verifies it."""
    if session is None or not session.token:
        return None
    verifier = runtime_of(request.app).verifier
    if verifier is None:
        return None
    try:
        return await verifier.verify(session.token)
    except AuthError:
        return None


def allowed(principal: Principal, *scopes: str) -> bool:
    try:
        check_scopes(principal, scopes)
    except AuthError:
        return False
    return True


def csrf_ok(request: Request[Any, Any, Any], session: ConsoleSession | None, sent: str | None) -> bool:
    """The form's token matches the session's, and a browser-sent Origin is this site."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        return False
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf, str(sent))


class LoginFailed(Exception):
    pass


async def fetch_token(settings: OperationsSettings, client_id: str, secret: str) -> tuple[str, int]:
    """Client credentials at the gateway; the client gets every scope it is registered with."""
    try:
        async with httpx.AsyncClient(timeout=settings.upstream_timeout_seconds) as http:
            response = await http.post(
                settings.auth_token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
    except httpx.HTTPError as exc:
        raise LoginFailed("The gateway's token endpoint did not answer; try again shortly.") from exc
    if response.status_code in (400, 401):
        raise LoginFailed("Unknown client id or wrong secret.")
    if response.status_code != 200:
        raise LoginFailed(f"The gateway answered {response.status_code}; try again shortly.")
    body = response.json()
    return str(body["access_token"]), int(body.get("expires_in", 300))
