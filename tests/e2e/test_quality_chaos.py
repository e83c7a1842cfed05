"""Chaos on PostgreSQL: failed inspections decided while one of two quality replicas, the ERP service
and Redis are each killed (SIGKILL) and restarted. Every lot ends with exactly one block
transaction in ERP, one nonconformance and one supplier case in QMS; every flow completes; all of
it within 30 s of the last restart.

The suite decides 60 lots; `scripts/chaos-quality` runs the same test with 200 (the issue's figure,
about two minutes here) and prints the figures. PLANTBRIDGE_CHAOS_LOTS sets the number.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from contracts.kit.db import Database
from contracts.kit.paging import as_utc
from plantbridge.processes import ChildProcess, RedisServer, ServiceProcess
from tests.support.fixtures import Launch
from tests.support.http import auth_headers
from tests.support.lots import prepare_lots
from tests.support.platform import DatabaseUrl, Platform
from tests.support.wait import eventually

LOTS = int(os.environ.get("PLANTBRIDGE_CHAOS_LOTS", "60"))
CONVERGED_WITHIN = 30.0  # seconds after the last restart (the target; 114-121 s before)
DECISIONS_PER_SECOND = LOTS / 10  # the decisions span the kills, whatever their number


@dataclass
class Chaos:
    platform: Platform
    redis: RedisServer
    replicas: list[ServiceProcess]
    timeline: list[tuple[float, str]] = field(default_factory=list)

    @property
    def erp(self) -> ServiceProcess:
        return self.platform.services["erp"]

    async def kill_and_restart(self, process: ChildProcess, started: float, down: float) -> None:
        await asyncio.to_thread(process.kill)
        self.timeline.append((time.monotonic() - started, f"killed {process.name}"))
        await asyncio.sleep(down)
        await asyncio.to_thread(process.start, 60)
        self.timeline.append((time.monotonic() - started, f"{process.name} serving again"))


@pytest.fixture
def chaos(launch: Launch, database_url: DatabaseUrl, postgres: Any, tmp_path: Path) -> Iterator[Chaos]:
    redis = RedisServer(tmp_path / "redis").start()  # its own: this test kills it
    platform = Platform(launch, database_url, "postgres", "chaos", redis.url)
    try:
        platform.start_gateway()
        for name in ("erp", "qms"):
            platform.start(name)
        settings = {
            **platform.own_client("quality"),
            "erp_url": platform.services["erp"].url,
            "qms_url": platform.services["qms"].url,
            "mes_url": platform.services["qms"].url,  # not called by these flows
            "log_level": "WARNING",
        }
        first = platform.start("quality", **settings)
        second = launch(
            "quality",
            database_url=platform.database_url_of("quality"),
            redis_url=platform.redis_url,
            **platform.trust("quality"),
            **settings,
        )
        yield Chaos(platform, redis, [first, second])
    finally:
        platform.stop()
        redis.stop()


async def test_two_quality_replicas_survive_kills_of_a_replica_erp_and_redis_with_every_effect_once(
    chaos: Chaos,
) -> None:
    platform = chaos.platform
    headers = auth_headers(["erp:read", "erp:write", "qms:read", "qms:write"])
    limits = httpx.Limits(max_connections=32)
    async with (
        httpx.AsyncClient(base_url=chaos.erp.url, headers=headers, timeout=30, limits=limits) as erp,
        httpx.AsyncClient(
            base_url=platform.services["qms"].url, headers=headers, timeout=30, limits=limits
        ) as qms,
    ):
        lots = await prepare_lots(erp, qms, LOTS)
        assert len(lots) == LOTS
        started = time.monotonic()
        decisions = asyncio.create_task(decide_all(qms, lots))
        # One replica dies early (its leased flows and read messages are the other's to take over),
        # then ERP (flows retry with the same keys), then Redis (events wait in the outbox).
        await asyncio.sleep(1.0)
        await chaos.kill_and_restart(chaos.replicas[0], started, down=1.0)
        await chaos.kill_and_restart(chaos.erp, started, down=2.0)
        await chaos.kill_and_restart(chaos.redis, started, down=2.0)
        last_restart, restarted_at = time.monotonic(), datetime.now(UTC)
        posted = await decisions

        verifier = Verifier(platform)
        try:
            converged = await verifier.converge([lot["lot_id"] for lot in lots], last_restart)
            figures = await verifier.effects([lot["lot_id"] for lot in lots])
        finally:
            await verifier.dispose()
    print(
        f"\nchaos: {LOTS} failed inspections decided in {posted:.1f} s at {DECISIONS_PER_SECOND:g}/s; "
        + "; ".join(f"{at:.1f} s {what}" for at, what in chaos.timeline)
        + f"\nconverged {converged:.1f} s after the last restart; {figures}; relative to the last restart "
        f"the last flow started at {_after(figures.last_started, restarted_at)} and completed at "
        f"{_after(figures.last_completed, restarted_at)}"
    )
    assert figures.duplicated() == {}
    assert figures.missing() == {}
    assert figures.flows == Counter({"completed": LOTS})
    assert converged <= CONVERGED_WITHIN


def _after(moment: datetime | None, origin: datetime) -> str:
    return f"{(as_utc(moment) - origin).total_seconds():+.1f} s" if moment else "never"


async def decide_all(qms: httpx.AsyncClient, lots: list[dict[str, str]]) -> float:
    """A block decision on every lot, at a steady rate, while the platform is being killed;
    returns the seconds they took."""
    start = time.monotonic()

    async def decide(n: int, lot: dict[str, str]) -> None:
        await asyncio.sleep(max(0.0, start + n / DECISIONS_PER_SECOND - time.monotonic()))
        answer = await qms.post(
            f"/qms/v1/inspection-lots/{lot['inspection_lot_id']}/usage-decision",
            json={"code": "R1", "disposition": "block", "decided_by": "chaos"},
        )
        assert answer.status_code == 200, answer.text

    await asyncio.gather(*(decide(n, lot) for n, lot in enumerate(lots)))
    return time.monotonic() - start


@dataclass
class Effects:
    lots: list[str]
    blocks: Counter[str]
    nonconformances: Counter[str]
    supplier_cases: Counter[str]
    flows: Counter[str]
    takeovers: int
    retries: int
    last_started: datetime | None  # the latest decision flow (when its event was consumed)
    last_completed: datetime | None

    @property
    def per_lot(self) -> dict[str, list[int]]:
        kinds = {"block": self.blocks, "nonconformance": self.nonconformances}
        kinds["supplier case"] = self.supplier_cases
        return {kind: [counts[lot] for lot in self.lots] for kind, counts in kinds.items()}

    def duplicated(self) -> dict[str, int]:
        """Lots with more than one effect of a kind, by kind."""
        return {kind: n for kind, counts in self.per_lot.items() if (n := sum(c > 1 for c in counts))}

    def missing(self) -> dict[str, int]:
        """Lots without an effect of a kind (yet), by kind."""
        return {kind: n for kind, counts in self.per_lot.items() if (n := counts.count(0))}

    def __str__(self) -> str:
        spread = ", ".join(f"{kind} {min(c)}-{max(c)}" for kind, c in self.per_lot.items())
        return (
            f"effects per lot: {spread}; decision flows {dict(self.flows)}; "
            f"{self.takeovers} lease takeovers, {self.retries} step retries"
        )


class Verifier:
    """Reads the effects from the services' own databases, one connection pool each: the check
    runs twice a second while the platform recovers and must not load PostgreSQL itself."""

    def __init__(self, platform: Platform) -> None:
        self.erp, self.qms, self.quality = (
            Database(platform.database_url_of(name), pool_size=1) for name in ("erp", "qms", "quality")
        )

    async def _rows(self, db: Database, sql: str) -> list[Any]:
        async with db.engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())

    async def effects(self, lots: list[str]) -> Effects:
        wanted = set(lots)
        blocks = await self._rows(self.erp, "SELECT lot_id FROM inventory_transactions WHERE type = 'block'")
        ncs = await self._rows(self.qms, "SELECT lot_id FROM nonconformances")
        cases = await self._rows(self.qms, "SELECT lot_ids FROM supplier_cases")
        flows = await self._rows(
            self.quality, "SELECT status, created_at, updated_at FROM kit_flows WHERE type = 'usage_decision'"
        )
        notes = await self._rows(
            self.quality,
            "SELECT t.kind FROM kit_flow_timeline t JOIN kit_flows f ON f.id = t.flow_id "
            "WHERE f.type = 'usage_decision' AND t.kind IN ('lease_taken_over', 'step_failed')",
        )
        kinds = Counter(r.kind for r in notes)
        return Effects(
            lots=lots,
            blocks=Counter(r.lot_id for r in blocks if r.lot_id in wanted),
            nonconformances=Counter(r.lot_id for r in ncs if r.lot_id in wanted),
            supplier_cases=Counter(lot for r in cases for lot in r.lot_ids if lot in wanted),
            flows=Counter(r.status for r in flows),
            takeovers=kinds["lease_taken_over"],
            retries=kinds["step_failed"],
            last_started=max((r.created_at for r in flows), default=None),
            last_completed=max((r.updated_at for r in flows if r.status == "completed"), default=None),
        )

    async def converge(self, lots: list[str], last_restart: float) -> float:
        """Seconds from the last restart until every decision flow completed and every lot has its
        block, nonconformance and supplier case (the wait's limit only guards against hanging)."""
        seen: list[Effects] = []

        async def done() -> bool:
            seen[:] = [await self.effects(lots)]
            return seen[0].flows == Counter({"completed": len(lots)}) and not seen[0].missing()

        try:
            await eventually(done, timeout=180, interval=0.5, what="every flow to complete")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {seen[0]}, missing {seen[0].missing()}") from None
        return time.monotonic() - last_restart

    async def dispose(self) -> None:
        for db in (self.erp, self.qms, self.quality):
            await db.dispose()
