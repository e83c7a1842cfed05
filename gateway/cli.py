"""`plantbridge gateway ...`: register OAuth2 clients, rotate signing keys, serve on granian.

Works on the gateway's database named by GATEWAY_DATABASE_URL (the same settings as the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any, cast

import msgspec


def add_parser(commands: Any) -> None:
    gateway = commands.add_parser("gateway", help="manage the gateway's OAuth2 clients and signing keys")
    sub = gateway.add_subparsers(dest="gateway_command", required=True)
    register = sub.add_parser("register-client", help="register a client; prints its secret once")
    register.add_argument("client_id")
    register.add_argument(
        "--scopes",
        required=True,
        type=_scope_list,
        help='space- or comma-separated, e.g. "erp:read erp:write"',
    )
    register.add_argument("--name", default="")
    register.add_argument("--secret", default=None, help="default: a new random secret")
    register.add_argument(
        "--supplier-id", default=None, help="supplier tokens carry it; portals filter by it"
    )
    register.add_argument("--person-id", default=None, help="a technician's person id")
    register.add_argument("--site", default=None)
    register.add_argument(
        "--replace", action="store_true", help="re-register an existing client (new secret and scopes)"
    )
    sub.add_parser("list-clients", help="registered clients (no secrets)")
    for name in ("disable-client", "enable-client"):
        sub.add_parser(name).add_argument("client_id")
    rotate = sub.add_parser(
        "rotate-key",
        help="publish a new key that signs after GATEWAY_KEY_PUBLISH_AHEAD_SECONDS; the old one stays"
        " published until its tokens expire",
    )
    rotate.add_argument(
        "--now",
        action="store_true",
        help="sign with it at once (a leaked key): services refetch on the unknown kid, throttled",
    )
    sub.add_parser("keys", help="published signing keys")
    sub.add_parser(
        "new-encryption-key", help="print a fresh value for GATEWAY_KEY_ENCRYPTION_KEY (nothing is stored)"
    )
    sub.add_parser("seal-keys", help="encrypt signing keys stored before GATEWAY_KEY_ENCRYPTION_KEY was set")
    sub.add_parser("migrate", help="apply the gateway's migrations")


def _scope_list(text: str) -> list[str]:
    return text.replace(",", " ").split()


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except ValueError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace) -> int:
    from contracts.kit import migrations
    from contracts.kit.db import Database
    from contracts.kit.settings import load_settings
    from gateway import clients, keys
    from gateway.app import VERSIONS_DIR
    from gateway.settings import GatewaySettings
    from gateway.store import metadata

    command = args.gateway_command
    if command == "new-encryption-key":
        print(keys.KeyCipher.new_key())
        return 0
    settings = load_settings(GatewaySettings, "GATEWAY")
    cipher = keys.KeyCipher.from_setting(settings.key_encryption_key)
    await asyncio.to_thread(migrations.upgrade, settings.database_url, VERSIONS_DIR, metadata)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            if command == "register-client":
                registration = msgspec.convert(args, clients.Registration, from_attributes=True)
                secret = await clients.register(session, registration)
                scope = " ".join(registration.scopes)
                _print({"client_id": registration.client_id, "client_secret": secret, "scope": scope})
            elif command == "list-clients":
                _print(
                    [
                        {
                            "client_id": c.client_id,
                            "name": c.name,
                            "scope": " ".join(c.scopes),
                            "active": c.active,
                            **c.claims(),
                        }
                        for c in await clients.list_all(session)
                    ]
                )
            elif command in ("disable-client", "enable-client"):
                if not await clients.set_active(session, args.client_id, command == "enable-client"):
                    raise ValueError(f"no client {args.client_id}")
            elif command == "rotate-key":
                kid, signs_from = await keys.rotate(
                    session,
                    settings.key_algorithm,
                    settings.token_ttl_seconds,
                    ahead=0.0 if args.now else settings.key_publish_ahead_seconds,
                    cipher=cipher,
                )
                _print({"kid": kid, "signs_from": signs_from.isoformat()})
            elif command == "keys":
                now = datetime.now(UTC)
                _print(
                    [
                        {
                            "kid": p.key.kid,
                            "algorithm": p.algorithm,
                            "created_at": p.created_at.isoformat(),
                            "signs_from": p.signs_from.isoformat(),
                            "retired_at": p.retired_at.isoformat() if p.retired_at else None,
                            "signs": p.signs(now),
                        }
                        for p in await keys.published(session, cipher=cipher)
                    ]
                )
            elif command == "seal-keys":
                if cipher is None:
                    raise ValueError("set GATEWAY_KEY_ENCRYPTION_KEY first")
                _print({"sealed": await keys.seal_stored_keys(session, cipher)})
        if command == "disable-client":
            return await _revoke(settings, args.client_id)
    finally:
        await db.dispose()
    return 0


async def _revoke(settings: Any, client_id: str) -> int:
    """After the database says "disabled" (no new tokens), end the tokens already out there."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from contracts.kit.revocation import revoke

    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        await revoke(redis, settings.issuer, client_id, keep_seconds=settings.token_ttl_seconds + 60)
    except (RedisError, OSError) as exc:
        print(
            f"gateway: {client_id} is disabled and gets no new tokens, but its tokens could not be"
            f" revoked ({exc}); they stay valid until they expire unless you run this again once"
            " Redis is reachable",
            file=sys.stderr,
        )
        return 1
    finally:
        await redis.aclose()
    return 0


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


def guarded_app() -> Any:
    """The gateway as granian serves it: behind the kernel's body deadline and per-client cap."""
    from contracts.kit.asgi import ASGIApp
    from contracts.kit.http_limits import RequestGuard
    from gateway.app import create_app

    app = create_app()
    return RequestGuard(cast(ASGIApp, app), app.gateway.settings, correlate=True)


def serve(host: str, port: int | None) -> int:
    """The gateway runs on granian (Rust HTTP server): measurably faster than uvicorn on the hot path."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    from contracts.kit.settings import load_settings
    from gateway.settings import GatewaySettings

    settings = load_settings(GatewaySettings, "GATEWAY")
    # Granian (hyper) enforces the header size (431, through its read buffer) and the header
    # deadline, which also ends idle keep-alive connections; the body is the RequestGuard's.
    http1 = HTTP1Settings(
        header_read_timeout=round(settings.http_header_timeout_seconds * 1000),
        max_buffer_size=settings.http_max_header_bytes,
    )
    Granian(
        "gateway.cli:guarded_app",
        factory=True,
        address=host,
        port=port or settings.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        loop=Loops.uvloop,
        workers=settings.workers,
        log_level=LogLevels.warning,
        http1_settings=http1,
    ).serve()
    return 0
