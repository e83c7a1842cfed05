"""A client disabled at the gateway stops receiving webhooks, as its tokens stop working.

The gateway revokes a disabled client's tokens issued before a cutoff (contracts/kit/revocation.py);
the service's token verifier hears of it and tells `RevokedClients`, which disables each active
subscription of that client made active by a token the revocation covers: one of the same issuer
(any issuer for a subscription made before the issuer was recorded) issued before the cutoff.
What was queued for it fails unsent, as for any disabled endpoint.

Re-enabling the client at the gateway re-enables nothing: its owner (with a new token) or an
operator enables each subscription again, which records that later authority, so the same
revocation heard again (the whole list is read on each start) leaves it alone.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import or_, select

from connectors.webhooks.delivery import disable
from connectors.webhooks.store import subscriptions
from contracts.kit.db import Database
from contracts.kit.paging import utcnow
from contracts.kit.relay import raise_if_cancelled

log = logging.getLogger("plantbridge.webhooks")


class RevokedClients:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._heard: asyncio.Queue[tuple[str, str, float]] = asyncio.Queue()

    def heard(self, issuer: str, client_id: str, before: float) -> None:
        """The verifier's listener (on the event loop): applied in order by `run`."""
        self._heard.put_nowait((issuer, client_id, before))

    async def run(self) -> None:
        """Apply each revocation heard, until cancelled; one the database refuses is tried again."""
        while True:
            issuer, client_id, before = await self._heard.get()
            failures = 0
            while True:
                raise_if_cancelled()
                try:
                    await self.apply(issuer, client_id, before)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    if failures == 1:
                        log.warning("cannot disable %s's subscriptions (%s); retrying", client_id, exc)
                    await asyncio.sleep(min(5.0, 0.1 * 2**failures))

    async def apply(self, issuer: str, client_id: str, before: float) -> list[str]:
        """Disable what the revocation covers; returns the subscriptions it disabled."""
        cutoff = datetime.fromtimestamp(before, UTC)
        covered = select(subscriptions.c.id).where(
            subscriptions.c.client_id == client_id,
            subscriptions.c.status == "active",
            or_(subscriptions.c.issuer == issuer, subscriptions.c.issuer.is_(None)),
            subscriptions.c.authorized_at < cutoff,
        )
        reason = (
            f"client {client_id} was disabled at the gateway "
            f"({issuer} revoked its tokens issued before {cutoff.isoformat(timespec='seconds')})"
        )
        now = utcnow()
        async with self.db.engine.begin() as conn:
            ids = list((await conn.execute(covered)).scalars())
            for subscription_id in ids:
                await disable(conn, subscription_id, reason, now)
        for subscription_id in ids:
            log.warning("webhook endpoint %s disabled: %s", subscription_id, reason)
        return ids
