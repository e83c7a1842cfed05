"""The connector's HTTP surface: what it heard, what went wrong, whether it is keeping up."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import FromQuery, QueryParameter
from sqlalchemy import func, select

from connectors.shopfloor import store
from connectors.shopfloor.metrics import protocol_of
from contracts.kit.paging import DB_INT_MAX, Page, Paged, as_utc, invalid_cursor, maybe_utc
from contracts.kit.responses import problems
from contracts.kit.unit_of_work import Session
from contracts.models import shopfloor as m

API = "/shopfloor/v1"
Text = Annotated[str | None, QueryParameter(min_length=1, max_length=255)]


def _cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        # validate: the lenient decoder drops what is not base64 ("%%%" became "", a fresh start)
        after = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except ValueError as exc:
        raise invalid_cursor() from exc
    # A NUL reaches PostgreSQL as a 500. Only that: a device name (an MQTT topic) may hold other
    # characters that are not printable, and its cursor must read back.
    if not after or "\x00" in after:
        raise invalid_cursor()
    return after


def _device(row: Any) -> m.Device:
    return m.Device(
        device=row.device,
        protocol=protocol_of(row.device),
        equipment_id=row.equipment_id,
        first_seen=as_utc(row.first_seen),
        last_seen=as_utc(row.last_seen),
        readings=row.readings,
        problems=dict(row.problems),
        last_problem=row.last_problem,
        last_problem_at=maybe_utc(row.last_problem_at),
    )


class ShopfloorController(Controller):
    path = ""
    tags = ["shop floor"]

    @get(
        "/devices",
        responses=problems(422),
        summary="Devices heard from, by id",
        description="`with_problems=true` lists only devices with a counted problem (the operations "
        "console's monitor); `equipment_id` those mapped to one equipment.",
    )
    async def devices(
        self,
        session: Session,
        page_query: Paged,
        with_problems: FromQuery[bool] = False,
        equipment_id: Text = None,
    ) -> Page[m.Device]:
        d, limit = store.devices.c, page_query.limit
        query = select(store.devices).order_by(d.device)
        if page_query.updated_since is not None:
            query = query.where(d.last_seen > page_query.updated_since)
        after = _after(page_query.cursor)
        if after is not None:
            query = query.where(d.device > after)
        if equipment_id:
            query = query.where(d.equipment_id == equipment_id)
        if with_problems:
            query = query.where(d.last_problem.is_not(None))
        rows = list((await session.execute(query.limit(limit + 1))).all())
        more = len(rows) > limit
        items = [_device(r) for r in rows[:limit]]
        return Page(items=items, next_cursor=_cursor(items[-1].device) if more else None)

    @get(
        "/problems",
        responses=problems(422),
        summary="Recent problems with what machines sent, newest first",
        description="Malformed payloads, unknown devices, replayed or missing sequence numbers, data "
        "without a birth certificate, changes MES refused. Kept for the connector's history hours.",
    )
    async def problems(
        self,
        session: Session,
        page_query: Paged,
        device: Text = None,
        problem: Text = None,
    ) -> Page[m.SignalProblem]:
        p, limit = store.problems, page_query.limit
        query = select(p).order_by(p.c.id.desc())
        if page_query.updated_since is not None:
            query = query.where(p.c.at > page_query.updated_since)
        after = _after(page_query.cursor)
        if after is not None:
            if not (after.isascii() and after.isdigit()) or int(after) > DB_INT_MAX:
                raise invalid_cursor()
            query = query.where(p.c.id < int(after))
        if device:
            query = query.where(p.c.device == device)
        if problem:
            query = query.where(p.c.problem == problem)
        rows = list((await session.execute(query.limit(limit + 1))).all())
        items = [
            m.SignalProblem(
                problem_id=str(r.id),
                at=as_utc(r.at),
                device=r.device,
                problem=r.problem,
                detail=r.detail,
                repeats=r.repeats,
            )
            for r in rows[:limit]
        ]
        return Page(items=items, next_cursor=_cursor(items[-1].problem_id) if len(rows) > limit else None)

    @get("/status", summary="Connections to the sources and the backlog toward MES")
    async def status(self, session: Session, request: Request[Any, Any, Any]) -> m.Status:
        backlog, oldest = await store.backlog(session)
        devices = await session.scalar(select(func.count()).select_from(store.devices))
        metrics = request.app.state["shopfloor_metrics"]
        return m.Status(
            connections=dict(metrics.connections),
            queued=metrics.queue_depth(),
            devices=int(devices or 0),
            backlog=backlog,
            oldest_unsent_at=maybe_utc(oldest),
        )


ROUTES = [ShopfloorController]
