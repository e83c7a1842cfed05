"""The flow store's HTTP surface, mounted by every process API at `/<process>/v1/flows`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody, Parameter, QueryParameter
from sqlalchemy import Row, select

from contracts.kit.acting import acting
from contracts.kit.app import runtime_of
from contracts.kit.auth import current_principal
from contracts.kit.flows import approvals
from contracts.kit.flows.approvals import ApprovalRow, ApprovalStatus
from contracts.kit.flows.engine import FlowType, cancel, resume, withdraw_dead_letter
from contracts.kit.flows.store import FlowStatus, flow_keys, flows, timeline
from contracts.kit.paging import Page, Paged, as_utc, check_if_match, keyset, page, utcnow
from contracts.kit.params import IfMatch
from contracts.kit.problems import IllegalTransition, NotFound, Problem, Unprocessable
from contracts.kit.repository import get_or_404, list_page
from contracts.kit.responses import problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.kit.wire import Id
from contracts.kit.wire.flows import Approval, ApprovalDecision, Flow, FlowStep, Timeline, TimelineEntry

Q = Paged
KeyFilter = FromQuery[Id | None]
F = TypeVar("F", bound=Callable[..., Any])


def searchable_keys(flow_types: Iterable[FlowType], also: Iterable[str] = ()) -> tuple[str, ...]:
    """The keys a flow list filters by: those of the flow types, in order of first declaration,
    then `also` (filters a published API version promised that no flow type carries now)."""
    return tuple(dict.fromkeys([*(k for t in flow_types for k in t.keys), *also]))


def _filtering_by(keys: Sequence[str]) -> Callable[[F], F]:
    """Give a handler taking `**keys` one optional query parameter per key. Litestar reads the
    parameters from the handler's signature; these come from the registered flow types."""

    def declare(handler: F) -> F:
        signature = inspect.signature(handler)
        fixed = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        filters = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=None) for k in keys]
        handler.__signature__ = signature.replace(parameters=[*fixed, *filters])  # type: ignore[attr-defined]
        kept = {p.name for p in fixed} | {"return"}
        handler.__annotations__ = {
            **{name: hint for name, hint in handler.__annotations__.items() if name in kept},
            **dict.fromkeys(keys, KeyFilter),
        }
        return handler

    return declare


def flow_controller(
    flow_types: Sequence[FlowType], *, also_filter_by: Sequence[str] = ()
) -> type[Controller]:
    """A controller bound to this service's flow types (to show each flow's step list, and to
    filter the list by their keys; `also_filter_by` keeps filters an earlier release offered)."""
    types = {t.name: t for t in flow_types}
    keys = searchable_keys(flow_types, also_filter_by)

    async def shown(session: Session, flow_id: str) -> Response[Flow]:
        return await shown_flow(session, flow_id, flow_types)

    class FlowController(Controller):
        path = "/flows"
        tags = ["flows"]

        @get(
            responses=problems(422),
            summary="List flows",
            description="Filter by status, type, correlation id or a business key (lot, order, asset, ...).",
        )
        @_filtering_by(keys)
        async def list_flows(
            self,
            session: Session,
            page_query: Q,
            status: FromQuery[FlowStatus | None] = None,
            flow_type: Annotated[str | None, QueryParameter(name="type", max_length=100)] = None,
            correlation_id: Annotated[str | None, Parameter(max_length=128)] = None,
            **by_key: str | None,
        ) -> Page[Flow]:
            query = select(flows)
            if status:
                query = query.where(flows.c.status == status)
            if flow_type:
                query = query.where(flows.c.type == flow_type)
            if correlation_id:
                query = query.where(flows.c.correlation_id == correlation_id)
            for name, value in by_key.items():
                if value:
                    query = query.where(
                        flows.c.id.in_(
                            select(flow_keys.c.flow_id).where(
                                flow_keys.c.name == name, flow_keys.c.value == value
                            )
                        )
                    )
            query = keyset(
                query,
                flows.c.updated_at,
                flows.c.id,
                limit=page_query.limit,
                cursor=page_query.cursor,
                updated_since=page_query.updated_since,
            )
            rows = list((await session.execute(query)).all())
            ids = [r.id for r in rows]
            keys, asked = await _keys(session, ids), await _approvals(session, ids)
            return page(
                rows,
                page_query.limit,
                lambda r: _view(r, keys.get(r.id, {}), types.get(r.type), asked.get(r.id)),
            )

        @get("/{flow_id:str}", responses=problems(404), summary="Get a flow with its steps")
        async def get_flow(self, session: Session, flow_id: Id) -> Response[Flow]:
            return await shown(session, flow_id)

        @get("/{flow_id:str}/timeline", responses=problems(404), summary="Everything that happened to a flow")
        async def get_timeline(self, session: Session, flow_id: Id) -> Timeline:
            flow = await _load(session, flow_id)
            entries = (
                await session.execute(
                    select(timeline).where(timeline.c.flow_id == flow_id).order_by(timeline.c.seq)
                )
            ).all()
            return Timeline(
                flow_id=flow_id,
                correlation_id=flow.correlation_id,
                entries=[
                    TimelineEntry(seq=e.seq, at=as_utc(e.at), kind=e.kind, step=e.step, detail=e.detail)
                    for e in entries
                ],
            )

        @post(
            "/{flow_id:str}/retry",
            status_code=200,
            responses=problems(404, 409, 412),
            summary="Run a stalled or waiting flow again now",
        )
        async def retry(
            self, request: Request[Any, Any, Any], session: Session, flow_id: Id, if_match: IfMatch = None
        ) -> Response[Flow]:
            row = await _load(session, flow_id)
            check_if_match(if_match, row.version)
            if row.status not in (FlowStatus.STALLED, FlowStatus.WAITING):
                raise IllegalTransition("flow", row.status, "retry")
            await resume(session, flow_id, "by operator")
            await withdraw_dead_letter(runtime_of(request.app).redis, row.trigger_delivery)
            return await shown(session, flow_id)

        @post(
            "/{flow_id:str}/cancel",
            status_code=200,
            responses=problems(404, 409, 412),
            summary="Cancel a flow that has not completed",
            description="Steps already done stay done; compensate them with the system APIs if needed.",
        )
        async def cancel(
            self, request: Request[Any, Any, Any], session: Session, flow_id: Id, if_match: IfMatch = None
        ) -> Response[Flow]:
            row = await _load(session, flow_id)
            check_if_match(if_match, row.version)
            if row.status in (FlowStatus.COMPLETED, FlowStatus.CANCELLED):
                raise IllegalTransition("flow", row.status, "cancel")
            await cancel(session, flow_id, "by operator")
            await withdraw_dead_letter(runtime_of(request.app).redis, row.trigger_delivery)
            return await shown(session, flow_id)

    return FlowController


async def shown_flow(
    session: Session, flow_id: str, flow_types: Sequence[FlowType], status_code: int = 200
) -> Response[Flow]:
    """A flow as the API shows it, with its ETag (also the answer of the start endpoints)."""
    row = await _load(session, flow_id)
    keys, asked = await _keys(session, [flow_id]), await _approvals(session, [flow_id])
    flow_type = next((t for t in flow_types if t.name == row.type), None)
    return versioned(
        _view(row, keys.get(flow_id, {}), flow_type, asked.get(flow_id)), status_code=status_code
    )


async def _load(session: Session, flow_id: str) -> Row[Any]:
    row = (await session.execute(select(flows).where(flows.c.id == flow_id))).one_or_none()
    if row is None:
        raise NotFound(f"flow {flow_id} does not exist", slug="flow-not-found")
    return row


async def _keys(session: Session, flow_ids: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    if flow_ids:
        for r in (await session.execute(select(flow_keys).where(flow_keys.c.flow_id.in_(flow_ids)))).all():
            found.setdefault(r.flow_id, {})[r.name] = r.value
    return found


async def _approvals(session: Session, flow_ids: list[str]) -> dict[str, Approval]:
    """Each flow's latest approval (most flows have none)."""
    found: dict[str, Approval] = {}
    if flow_ids:
        rows = await session.scalars(
            select(ApprovalRow).where(ApprovalRow.flow_id.in_(flow_ids)).order_by(ApprovalRow.created_at)
        )
        found = {row.flow_id: approvals.view(row) for row in rows}
    return found


def _view(
    row: Row[Any], keys: dict[str, str], flow_type: FlowType | None, approval: Approval | None = None
) -> Flow:
    names = [s.name for s in flow_type.steps] if flow_type else list(row.results)
    steps = []
    for number, name in enumerate(names):
        if name in row.results:
            status = "done"
        elif number < row.next_step:
            status = "skipped"
        elif number == row.next_step and row.status in (FlowStatus.WAITING, FlowStatus.STALLED):
            status = "failed"
        elif number == row.next_step and row.status == FlowStatus.AWAITING_APPROVAL:
            status = "awaiting_approval"
        else:
            status = "pending"
        steps.append(FlowStep(name=name, status=status, result=row.results.get(name)))
    waiting = row.status == FlowStatus.WAITING
    return Flow(
        flow_id=row.id,
        type=row.type,
        status=row.status,
        correlation_id=row.correlation_id,
        keys=keys,
        data=row.data,
        steps=steps,
        attempts=row.attempts,
        last_error=row.last_error,
        next_run_at=as_utc(row.next_run_at) if waiting else None,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        causation_id=row.causation_id,
        causation_type=row.causation_type,
        approval=approval,
    )


def approval_controller(flow_types: Sequence[FlowType], *, service: str, source: str) -> type[Controller]:
    """`/approvals`: what this service's flows wait for, and the yes or no that lets them go on.
    Deciding needs the scope `<service>:approve`; nobody approves what they asked for themselves."""
    gates = {(t.name, s.name): s.approval for t in flow_types for s in t.steps if s.approval is not None}
    deciding = {"scopes": (f"{service}:approve",)}
    refusals = problems(403, 404, 409, 412, 422)

    async def decide(
        request: Request[Any, Any, Any],
        session: Session,
        approval_id: str,
        data: ApprovalDecision,
        if_match: str | None,
        verdict: ApprovalStatus,
    ) -> Response[Approval]:
        row = await get_or_404(session, ApprovalRow, approval_id, "approval")
        check_if_match(if_match, row.version)
        action = "approve" if verdict == ApprovalStatus.APPROVED else "reject"
        if row.status != ApprovalStatus.PENDING:
            raise IllegalTransition("approval", row.status, action)
        flow = await _load(session, row.flow_id)
        if flow.status != FlowStatus.AWAITING_APPROVAL:
            raise IllegalTransition("flow", flow.status, action)
        who = acting(current_principal(request))
        assert who is not None  # the route needs a token
        mine = {who.key(), f"name:{who.client_id}", *([f"name:{who.person_id}"] if who.person_id else [])}
        if mine & set(row.requester_keys):
            raise Problem(
                f"{who.describe()} asked for this approval and cannot give it; another person must.",
                status=403,
                slug="approver-is-requester",
                title="Approval needs a second person",
            )
        if verdict == ApprovalStatus.REJECTED and not (data.comment or "").strip():
            raise Unprocessable("say why the approval is refused (comment)", slug="comment-required")
        row.status, row.decided_at, row.decided_by, row.comment = (
            verdict,
            utcnow(),
            who.describe(),
            data.comment,
        )
        await session.flush()
        if verdict == ApprovalStatus.APPROVED:
            await resume(session, row.flow_id, f"by {who.describe()} ({row.id})", kind="approved")
        else:
            # Cancelled at the step, its lease revoked like an operator's cancel: no runner goes on.
            await cancel(session, row.flow_id, f"not approved by {who.describe()}: {data.comment}", row.step)
        gate = gates.get((row.flow_type, row.step))
        if gate is not None:
            await approvals.announce(session, source, gate, row, "decided")
        return versioned(approvals.view(row))

    class ApprovalController(Controller):
        path = "/approvals"
        tags = ["approvals"]

        @get(
            responses=problems(422),
            summary="List approvals",
            description="Pending ones are what flows wait for (oldest change first); by status or flow.",
        )
        async def list_approvals(
            self,
            session: Session,
            page_query: Q,
            status: FromQuery[ApprovalStatus | None] = None,
            flow_id: FromQuery[Id | None] = None,
        ) -> Page[Approval]:
            where = [c == v for c, v in ((ApprovalRow.status, status), (ApprovalRow.flow_id, flow_id)) if v]
            return await list_page(session, ApprovalRow, approvals.view, page_query, where=where)

        @get("/{approval_id:str}", responses=problems(404), summary="Get an approval")
        async def get_approval(self, session: Session, approval_id: Id) -> Response[Approval]:
            return versioned(approvals.view(await get_or_404(session, ApprovalRow, approval_id, "approval")))

        @post(
            "/{approval_id:str}/approve",
            status_code=200,
            opt=deciding,
            responses=refusals,
            summary="Approve: the flow goes on",
            description="403 approver-is-requester when the caller (or the person it acts for) asked for "
            "it; 409 when it is decided already. If-Match takes the approval's ETag.",
        )
        async def approve(
            self,
            request: Request[Any, Any, Any],
            session: Session,
            approval_id: Id,
            data: JSONBody[ApprovalDecision],
            if_match: IfMatch = None,
        ) -> Response[Approval]:
            return await decide(request, session, approval_id, data, if_match, ApprovalStatus.APPROVED)

        @post(
            "/{approval_id:str}/reject",
            status_code=200,
            opt=deciding,
            responses=refusals,
            summary="Refuse, saying why: the flow is cancelled at this step",
        )
        async def reject(
            self,
            request: Request[Any, Any, Any],
            session: Session,
            approval_id: Id,
            data: JSONBody[ApprovalDecision],
            if_match: IfMatch = None,
        ) -> Response[Approval]:
            return await decide(request, session, approval_id, data, if_match, ApprovalStatus.REJECTED)

    return ApprovalController


__all__ = ["approval_controller", "flow_controller", "searchable_keys", "shown_flow"]
