"""Flow leases: which runner may run a flow, for how long, and the token that fences it out after.

A runner leases a flow before it runs it: `lease_until` says until when, `lease_owner` who, and
`lease_generation` (one more on every lease, and on every operator retry or cancel) is the fencing
token. Every change the runner commits names the generation it leased; once the lease has been
taken over or revoked the change matches no row, so a runner that lost its lease commits nothing
(`LeaseLost`). While a step runs, a heartbeat renews the lease every third of its length; a runner
that cannot renew it in time cancels its own step, so a live runner keeps its flows and a crashed
one loses them within one lease.

Leases compare wall clocks of the replicas (stored `lease_until` against the claimer's clock):
keep them in step (NTP). A skew shortens or lengthens a lapsed lease by that much; the fencing
token keeps even a skewed takeover from committing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, String, and_, bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from contracts.kit.flows.store import ACTIVE, flows

log = logging.getLogger("plantbridge.flows")


class LeaseLost(Exception):
    """Another runner took the flow over (its lease lapsed) or an operator retried or cancelled it:
    whatever this runner was doing for the flow is discarded, never committed."""

    def __init__(self, flow_id: str, why: str) -> None:
        super().__init__(f"flow {flow_id}: lease lost ({why})")
        self.flow_id = flow_id


@dataclass
class Lease:
    flow_id: str
    generation: int
    seconds: float
    renewed_at: float  # loop time of the last renewal's start: the lease runs from no earlier
    lost: bool = False
    # The flow's row as read before leasing it, when nothing changed it in between (its version
    # is the one leased): the runner starts from it instead of reading the row again.
    snapshot: Any = None

    @property
    def deadline(self) -> float:
        """Loop time by which the step must have stopped unless the lease is renewed."""
        return self.renewed_at + self.seconds - min(1.0, self.seconds / 10)

    @property
    def fence(self) -> dict[str, Any]:
        """Parameters that make a change apply only while this lease holds."""
        return {"flow": self.flow_id, "generation": self.generation}


@dataclass(frozen=True)
class Takeover:
    """A flow leased by another runner whose lease lapsed: that runner crashed or stopped."""

    flow_id: str
    previous_owner: str
    lapsed_at: datetime
    next_step: int
    type: str


NOW = bindparam("now", type_=flows.c.lease_until.type)
FREE = or_(flows.c.lease_until.is_(None), flows.c.lease_until < NOW)
# Only rows still active and free are leased: another replica may have taken some meanwhile.
_LEASE = (
    update(flows)
    .where(flows.c.id.in_(bindparam("ids", expanding=True)), flows.c.status.in_(ACTIVE), FREE)
    .values(
        lease_until=bindparam("until", type_=flows.c.lease_until.type),
        lease_owner=bindparam("owner", type_=String),
        lease_generation=flows.c.lease_generation + 1,
    )
    .returning(flows.c.id, flows.c.lease_generation, flows.c.version)
)
FENCED = and_(
    flows.c.id == bindparam("flow", type_=String),
    flows.c.lease_generation == bindparam("generation", type_=Integer),
)
_RENEW = update(flows).where(FENCED).values(lease_until=bindparam("until", type_=flows.c.lease_until.type))
# The whole row: a flow leased as it was read runs from that read (`Lease.snapshot`).
CANDIDATE_COLUMNS = tuple(flows.c)


def lease(
    session: Connection,
    candidates: Sequence[Any],
    *,
    owner: str,
    seconds: float,
    now: datetime,
    started: float,
) -> tuple[list[Lease], list[Takeover]]:
    """Lease the candidate rows (`CANDIDATE_COLUMNS`) still free; say which were taken over."""
    if not candidates:
        return [], []
    until = now + timedelta(seconds=seconds)
    params = {"ids": [c.id for c in candidates], "now": now, "until": until, "owner": owner}
    granted = {row.id: row for row in session.execute(_LEASE, params).all()}
    read = {c.id: c for c in candidates}
    # Every change to what a run reads (data, results, next step, attempts, status) moves the
    # version: the same version leased means the row read is the row leased.
    leases = [
        Lease(
            str(i),
            int(g.lease_generation),
            seconds,
            started,
            snapshot=read[i] if read[i].version == g.version else None,
        )
        for i, g in granted.items()
    ]
    # A lapsed lease (set, and past) whose generation nobody moved between our read and our
    # lease is a takeover from the runner named in it.
    takeovers = [
        Takeover(c.id, c.lease_owner or "unknown", c.lease_until, c.next_step, c.type)
        for c in candidates
        if c.lease_until is not None
        and c.id in granted
        and granted[c.id].lease_generation == c.lease_generation + 1
    ]
    return leases, takeovers


async def renew(session: AsyncSession | AsyncConnection, held: Lease, until: datetime | None) -> bool:
    """Extend the lease to `until` (None: let go of it); False when it is no longer ours."""
    result: Any = await session.execute(_RENEW, {**held.fence, "until": until})
    return int(result.rowcount or 0) == 1


def revoke() -> dict[str, Any]:
    """Values for an operator's change to a flow (retry, cancel): any runner's lease ends."""
    return {"lease_until": None, "lease_generation": flows.c.lease_generation + 1}


@asynccontextmanager
async def kept(held: Lease, renew_once: Callable[[Lease], Awaitable[bool]]) -> AsyncIterator[None]:
    """Run the body while a heartbeat renews `held` every third of its length. If the lease cannot
    be renewed before it lapses (taken over, revoked, or the database unreachable), the body is
    cancelled and `LeaseLost` raised in its place."""
    loop = asyncio.get_running_loop()
    body = asyncio.current_task()
    assert body is not None
    interval = held.seconds / 3

    async def beat() -> None:
        while True:
            await asyncio.sleep(max(0.0, min(held.renewed_at + interval, held.deadline) - loop.time()))
            if loop.time() >= held.deadline:
                break  # could not renew in time (database unreachable, or this process was paused)
            started = loop.time()
            try:
                if not await renew_once(held):
                    break  # the generation moved: taken over or revoked
                held.renewed_at = started
            except Exception as exc:  # the database may come back before the deadline
                log.warning("flow %s: renewing its lease failed, retrying: %s", held.flow_id, exc)
                await asyncio.sleep(min(1.0, interval))
        held.lost = True
        body.cancel()

    heart = asyncio.create_task(beat(), name=f"lease-{held.flow_id}")
    try:
        yield
    except asyncio.CancelledError:
        if held.lost and body.uncancel() == 0:
            raise LeaseLost(held.flow_id, "not renewed in time") from None
        raise
    finally:
        heart.cancel()
        await asyncio.gather(heart, return_exceptions=True)
