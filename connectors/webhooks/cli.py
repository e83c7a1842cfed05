"""`plantbridge webhooks ...`: partner endpoints, their messages and attempts, retry and replay,
on the webhooks service's own database (WEBHOOKS_DATABASE_URL), as an operator. The running
service picks up what is queued here within WEBHOOKS_POLL_SECONDS."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec

ACTOR = "plantbridge-cli"


def add_parser(commands: Any) -> None:
    hooks = commands.add_parser(
        "webhooks", help="partner webhooks: endpoints, messages, attempts, retry, replay"
    )
    hooks.add_argument("--json", action="store_true", help="print JSON instead of a table")
    actions = hooks.add_subparsers(dest="action", required=True)
    endpoints = actions.add_parser("endpoints", help="subscribed endpoints with their health")
    endpoints.add_argument("--status", choices=["active", "disabled"])
    endpoints.add_argument("--client", default=None, help="one partner client's only")
    listing = actions.add_parser("messages", help="messages, most recently changed last")
    listing.add_argument("--endpoint", default=None, help="a subscription id")
    listing.add_argument("--status", choices=["pending", "delivered", "failed"])
    listing.add_argument("--event", default=None, help="an event id (the webhook-id)")
    listing.add_argument("--limit", type=int, default=50)
    show = actions.add_parser("show", help="one message with its payload and every attempt")
    show.add_argument("message_id")
    retry = actions.add_parser("retry", help="one more attempt of a message now")
    retry.add_argument("message_id")
    replay = actions.add_parser("replay", help="send an endpoint again what failed or was missed in a window")
    replay.add_argument("endpoint")
    replay.add_argument("--since", required=True, help="RFC 3339, e.g. 2026-12-05T18:00:00Z")
    replay.add_argument("--until", default=None)
    replay.add_argument("--include-delivered", action="store_true")
    for name, what in (("enable", "send to an endpoint again"), ("disable", "stop sending to an endpoint")):
        action = actions.add_parser(name, help=what)
        action.add_argument("endpoint")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from connectors.webhooks import service
    from connectors.webhooks.settings import WebhooksSettings
    from contracts.kit.auth import Principal
    from contracts.kit.db import Database
    from contracts.kit.paging import PageQuery, parse_instant
    from contracts.kit.problems import Problem
    from contracts.kit.settings import load_settings
    from contracts.models import webhooks as m

    settings = load_settings(WebhooksSettings, "WEBHOOKS")
    db = Database(settings.database_url)
    operator = Principal(
        client_id=ACTOR,
        subject=ACTOR,
        issuer="cli",
        scopes=frozenset({service.READ, service.OPERATE}),
        expires_at=0,
    )
    calls: dict[str, Callable[[Any], Awaitable[Any]]] = {
        "endpoints": lambda s: service.list_subscriptions(
            s, operator, PageQuery(limit=500), args.status, args.client
        ),
        "messages": lambda s: service.list_messages(
            s,
            operator,
            PageQuery(limit=args.limit),
            subscription_id=args.endpoint,
            status=args.status,
            event_id=args.event,
            event_type=None,
        ),
        "show": lambda s: service.message_detail(s, operator, args.message_id),
        "retry": lambda s: service.retry(s, operator, args.message_id),
        "replay": lambda s: service.replay(
            s,
            operator,
            args.endpoint,
            m.Replay(
                since=_instant(parse_instant(args.since)),
                until=parse_instant(args.until),
                include_delivered=args.include_delivered,
            ),
        ),
        "enable": lambda s: service.set_enabled(s, operator, args.endpoint, True),
        "disable": lambda s: service.set_enabled(s, operator, args.endpoint, False),
    }
    try:
        async with db.transaction() as session:
            result = await calls[args.action](session)
        _print(result, args.json)
        return 0
    except Problem as exc:
        print(f"{exc.title.lower()}: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()


def _instant(moment: datetime | None) -> datetime:
    assert moment is not None  # --since is required
    return moment


def _print(value: Any, as_json: bool) -> None:
    table = None if as_json else _TABLES.get(type(value).__name__)
    if table is None:
        print(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())
    else:
        print(table(value))


def _endpoints(page: Any) -> str:
    lines = [f"{'endpoint':<18} {'client':<20} {'status':<9} {'failing since':<20} url"]
    for s in page.items:
        failing = s.failing_since.strftime("%Y-%m-%d %H:%M:%S") if s.failing_since else "-"
        lines.append(
            f"{s.subscription_id:<18} {s.client_id[:20]:<20} {s.status.value:<9} {failing:<20} {s.url}"
        )
        if s.disabled_reason:
            lines.append(f"{'':<18} disabled: {s.disabled_reason}")
    return "\n".join(lines)


def _messages(page: Any) -> str:
    lines = [f"{'message':<18} {'endpoint':<18} {'status':<9} {'tries':>5}  {'event (webhook-id)':<38} last"]
    for msg in page.items:
        last = f"{msg.last_response_status or ''} {msg.last_error or ''}".strip()[:60]
        lines.append(
            f"{msg.message_id:<18} {msg.subscription_id:<18} {msg.status.value:<9} {msg.attempts:>5}  "
            f"{msg.event_id:<38} {last}"
        )
    if page.next_cursor:
        lines.append("more: use the API's cursor, or --status / --endpoint to narrow")
    return "\n".join(lines)


def _detail(msg: Any) -> str:
    lines = [
        f"message {msg.message_id}: {msg.event_type} (webhook-id {msg.event_id}) to {msg.subscription_id}",
        f"status {msg.status.value}, {msg.attempts} attempts",
        f"{'#':>3} {'at (UTC)':<20} {'trigger':<10} {'outcome':<10} {'code':>4} {'ms':>8}  error",
    ]
    for a in msg.attempt_log:
        outcome = "delivered" if a.succeeded else "failed"
        code = str(a.response_status or "-")
        lines.append(
            f"{a.number:>3} {a.attempted_at.strftime('%Y-%m-%d %H:%M:%S'):<20} {a.trigger:<10} {outcome:<10} "
            f"{code:>4} {a.latency_ms:>8.1f}  {a.error or ''}"
        )
    return "\n".join(lines)


_TABLES: dict[str, Callable[[Any], str]] = {
    "SubscriptionPage": _endpoints,
    "MessagePage": _messages,
    "MessageDetail": _detail,
}
