"""`plantbridge events ...`: stream health, dead letters and replay from the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import msgspec

DEFAULT_REDIS = "redis://127.0.0.1:6380/0"  # the Redis `plantbridge up` starts


def add_parser(commands: Any) -> None:
    events = commands.add_parser("events", help="event streams: lag, pending, dead letters, replay")
    events.add_argument(
        "--redis", default=os.environ.get("PLANTBRIDGE_REDIS_URL", DEFAULT_REDIS), help="Redis URL"
    )
    events.add_argument("--json", action="store_true", help="print JSON instead of a table")
    actions = events.add_subparsers(dest="action", required=True)
    actions.add_parser("streams", help="length, lag and pending per consumer group")
    letters = actions.add_parser("dead-letters", help="list the dead letters of a stream")
    letters.add_argument("stream")
    letters.add_argument("--limit", type=int, default=50)
    letters.add_argument("--cursor", default=None)
    show = actions.add_parser("show", help="one dead letter with its event and error")
    show.add_argument("stream")
    show.add_argument("dead_letter_id")
    replay = actions.add_parser("replay", help="replay one dead letter (same event id and correlation)")
    replay.add_argument("stream")
    replay.add_argument("dead_letter_id")
    replay_all = actions.add_parser("replay-all", help="replay every dead letter of a stream")
    replay_all.add_argument("stream")
    replay_all.add_argument("--group", default=None, help="only the dead letters of this consumer group")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from contracts.kit import operations as ops
    from contracts.kit.problems import NotFound

    redis = Redis.from_url(args.redis, socket_connect_timeout=2, socket_timeout=10)
    try:
        if args.action == "streams":
            stats = await ops.all_stream_stats(redis)
            _print(stats, args.json, _streams_table)
        elif args.action == "dead-letters":
            page = await ops.dead_letters(redis, args.stream, limit=args.limit, cursor=args.cursor)
            _print(page, args.json, _letters_table)
        elif args.action == "show":
            letter = await ops.dead_letter(redis, args.stream, args.dead_letter_id)
            if letter is None:
                raise NotFound(f"no dead letter {args.dead_letter_id} on {args.stream}")
            _print(letter, True, None)
        elif args.action == "replay":
            done = await ops.replay(redis, args.stream, args.dead_letter_id)
            if done is None:
                raise NotFound(f"no dead letter {args.dead_letter_id} on {args.stream}")
            _print(ops.ReplayResult(replayed=[done]), args.json, _replayed_table)
        else:
            replayed = await ops.replay_all(redis, args.stream, group=args.group)
            _print(ops.ReplayResult(replayed=replayed), args.json, _replayed_table)
        return 0
    except NotFound as exc:
        print(f"not found: {exc.detail}", file=sys.stderr)
        return 1
    except RedisError as exc:
        print(f"cannot reach Redis at {args.redis}: {exc}", file=sys.stderr)
        return 2
    finally:
        await redis.aclose()


def _print(value: Any, as_json: bool, table: Any) -> None:
    if as_json or table is None:
        print(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())
    else:
        print(table(value))


def _streams_table(stats: list[Any]) -> str:
    lines = [f"{'stream':<24} {'length':>8} {'dead':>6}  {'group':<20} {'pending':>8} {'lag':>8}  consumers"]
    for s in stats:
        if not s.groups:
            lines.append(f"{s.stream:<24} {s.length:>8} {s.dead_letters:>6}  {'-':<20}")
        for g in s.groups:
            busy = ", ".join(f"{name}={n}" for name, n in g.pending_by_consumer.items() if n) or "-"
            lag = "?" if g.lag is None else str(g.lag)
            head = f"{s.stream:<24} {s.length:>8} {s.dead_letters:>6}"
            lines.append(f"{head}  {g.group:<20} {g.pending:>8} {lag:>8}  {busy}")
    return "\n".join(lines)


def _letters_table(page: Any) -> str:
    lines = [f"{'dead letter id':<18} {'group':<16} {'tries':>5}  {'type':<40} error"]
    for d in page.items:
        lines.append(f"{d.dead_letter_id:<18} {d.group:<16} {d.attempts:>5}  {d.type:<40} {d.error[:80]}")
    if page.next_cursor:
        lines.append(f"more: --cursor {page.next_cursor}")
    return "\n".join(lines)


def _replayed_table(result: Any) -> str:
    lines = [
        f"replayed {d.dead_letter_id} (event {d.event_id}) to group {d.group} as {d.new_entry_id}"
        for d in result.replayed
    ]
    return "\n".join(lines) or "nothing to replay"
