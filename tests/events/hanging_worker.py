"""A consumer process whose handler writes its effect, then hangs before committing.

Run by test_crash.py as `python -m tests.events.hanging_worker DB_URL REDIS_URL STREAM GROUP MARKER`;
the test kills it (SIGKILL) while it hangs, i.e. mid-handler with the transaction open.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.consumer import Consumer
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent
from tests.events.support import RECEIPT, record


async def main(db_url: str, redis_url: str, stream: str, group: str, marker: Path) -> None:
    db = Database(db_url)
    redis = Redis.from_url(redis_url)

    async def hang(event: CloudEvent, session: AsyncSession) -> None:
        await record(event, session)
        await session.flush()  # the effect is written, not committed
        await asyncio.to_thread(marker.write_text, event.id)
        await asyncio.Event().wait()

    consumer = Consumer(db=db, redis=redis, group=group, name="doomed", claim_idle_ms=60_000)
    consumer.on(RECEIPT, hang, stream=stream)
    await consumer.ensure_groups()
    await consumer.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5])))
