"""The console's pages. Each checks the logged-in person's token for the scopes the same data
needs through the gateway; the data itself is fetched with this service's own client."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Litestar, Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from litestar.params import Parameter
from litestar.static_files import create_static_files_router

from contracts.clients.base import UpstreamProblem
from contracts.clients.webhooks import WebhooksClient
from contracts.kit import acting, correlation
from contracts.kit import operations as backbone
from contracts.kit.auth import Principal
from contracts.kit.operations import ENTRY_PATTERN, STREAM_PATTERN
from contracts.kit.paging import utcnow
from contracts.kit.patterns import whole
from contracts.kit.problems import Problem
from contracts.models.common import ID_MAX, ID_PATTERN
from contracts.models.webhooks import Replay
from experience_apis.operations.console import pages
from experience_apis.operations.console.render import STATIC, page, redirect
from experience_apis.operations.console.session import (
    PATH,
    LoginFailed,
    Sealer,
    allowed,
    csrf_ok,
    fetch_token,
    principal_of,
    session_of,
)
from experience_apis.operations.monitors.base import FAILURES
from experience_apis.operations.monitors.registry import MONITORS, run_all
from experience_apis.operations.service import Operations
from experience_apis.operations.settings import OperationsSettings

Req = Request[Any, Any, Any]
Html = Response[str]
Process = Annotated[str, Parameter(pattern=whole(r"(quality|maintenance)"))]
FlowId = Annotated[str, Parameter(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
Stream = Annotated[str, Parameter(pattern=STREAM_PATTERN, max_length=200)]
Entry = Annotated[str, Parameter(pattern=ENTRY_PATTERN, max_length=41)]
SearchBy = Annotated[str, Parameter(pattern=whole("(" + "|".join(pages.SEARCH_KEYS) + ")"))]
SearchValue = Annotated[str | None, Parameter(max_length=128, pattern=whole(r"[^\x00-\x1f]*"))]
AuditValue = Annotated[str | None, Parameter(max_length=128, pattern=whole(r"[A-Za-z0-9._:\-]*"))]
MessageState = Annotated[str, Parameter(pattern=whole(r"(|pending|failed|delivered)"))]
DisagreementState = Annotated[str, Parameter(pattern=whole(r"(|open|repairing|repaired|resolved)"))]


def _once(form: dict[str, str], action: str, record_id: str) -> str:
    """A form's Idempotency-Key: one per page view, so a double click sends the request once and
    a click on a freshly loaded page is a new request."""
    once = form.get("once", "")
    if not once.isalnum() or len(once) > 64:
        raise Problem("The form is incomplete; reload the page.", status=400)
    return f"console-{action}-{record_id}-{once}"


Verdict = Annotated[str, Parameter(pattern=whole(r"(approve|reject)"))]
VerdictShown = Annotated[str | None, Parameter(pattern=whole(r"(approve|reject)"))]


class Forbidden(Exception):
    def __init__(self, scopes: tuple[str, ...]) -> None:
        super().__init__(" ".join(scopes))
        self.scopes = scopes


class LoggedOut(Exception):
    pass


def console_router(settings: OperationsSettings, operations_of: Callable[[Litestar], Operations]) -> Router:
    sealer = Sealer(settings)

    async def who(request: Req, *scopes: str) -> tuple[Principal, str]:
        """The logged-in person (and the session's CSRF token), holding `scopes`."""
        session = session_of(request, sealer)
        principal = await principal_of(request, session)
        if principal is None or session is None:
            raise LoggedOut()
        if scopes and not allowed(principal, *scopes):
            raise Forbidden(scopes)
        return principal, session.csrf

    async def form_of(request: Req, *scopes: str) -> tuple[Principal, dict[str, str]]:
        principal, _ = await who(request, *scopes)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not csrf_ok(request, session_of(request, sealer), form.get("csrf")):
            raise Problem(
                "The form is stale or came from another site; reload the page.", status=403, slug="csrf"
            )
        return principal, form

    def ops(request: Req) -> Operations:
        return operations_of(request.app)

    def common(principal: Principal, csrf: str, active: str) -> dict[str, Any]:
        return {"principal": principal, "csrf": csrf, "active": active, "now": utcnow()}

    # --- login ---------------------------------------------------------------------------------
    @get("/login")
    async def login_form(request: Req) -> Html:
        session = session_of(request, sealer) or sealer.fresh()
        return page("login.html", csrf=session.csrf, error=None, cookies=[sealer.cookie(session)])

    @post("/login")
    async def login(request: Req) -> Html:
        form = {k: str(v) for k, v in (await request.form()).items()}
        session = session_of(request, sealer)
        if not csrf_ok(request, session, form.get("csrf")):
            fresh = sealer.fresh()
            return page(
                "login.html",
                status=403,
                csrf=fresh.csrf,
                error="The form expired; try again.",
                cookies=[sealer.cookie(fresh)],
            )
        client_id, secret = form.get("client_id", "").strip(), form.get("client_secret", "")
        try:
            if not client_id or not secret or len(client_id) > 200 or len(secret) > 500:
                raise LoginFailed("Enter a client id and its secret.")
            token, lifetime = await fetch_token(settings, client_id, secret)
        except LoginFailed as exc:
            assert session is not None
            return page(
                "login.html", status=401, csrf=session.csrf, error=str(exc), cookies=[sealer.cookie(session)]
            )
        # A new session (new CSRF token) on login, so nothing from before it carries over.
        return redirect(
            f"{PATH}/",
            cookies=[sealer.cookie(sealer.fresh(token=token, client_id=client_id, lifetime=lifetime))],
        )

    @post("/logout")
    async def logout(request: Req) -> Html:
        await form_of(request)
        return redirect(f"{PATH}/login", cookies=[sealer.cleared()])

    # --- monitors ------------------------------------------------------------------------------
    @get("/")
    async def monitors(request: Req) -> Html:
        principal, csrf = await who(request, "operations:read")
        now = utcnow()
        results = await run_all(ops(request).upstreams, now)
        ops(request).gauges.record(results)
        board = [
            (m, results[m.name], [(o, pages.console_links(o)) for o in results[m.name].items])
            for m in MONITORS
        ]
        return page("monitors.html", board=board, **common(principal, csrf, "monitors"))

    # --- flows ---------------------------------------------------------------------------------
    @get("/flows")
    async def flows(request: Req, by: SearchBy = "lot_id", value: SearchValue = None) -> Html:
        principal, csrf = await who(request)
        readable = [p for p in ("quality", "maintenance") if allowed(principal, f"{p}:read")]
        if not readable:
            raise Forbidden(("quality:read",))
        hits: list[pages.FlowHit] = []
        warnings: list[tuple[str, str]] = []
        if value and value.strip():
            hits, gathered = await pages.search_flows(ops(request).upstreams, readable, by, value.strip())
            warnings = gathered.warnings
        return page(
            "flows.html",
            by=by,
            value=value or "",
            keys=pages.SEARCH_KEYS,
            hits=hits,
            warnings=warnings,
            searched=bool(value),
            **common(principal, csrf, "flows"),
        )

    @get("/flows/{process:str}/{flow_id:str}")
    async def flow(request: Req, process: Process, flow_id: FlowId) -> Html:
        principal, csrf = await who(request, f"{process}:read")
        found, timeline = await pages.flow_with_timeline(ops(request).upstreams, process, flow_id)
        may_retry = found.status in ("stalled", "waiting") and allowed(principal, f"{process}:write")
        return page(
            "flow.html",
            process=process,
            flow=found,
            timeline=timeline,
            may_retry=may_retry,
            **common(principal, csrf, "flows"),
        )

    @post("/flows/{process:str}/{flow_id:str}/retry")
    async def retry(request: Req, process: Process, flow_id: FlowId) -> Html:
        _, form = await form_of(request, f"{process}:write")
        client = ops(request).upstreams.processes[process]
        version = form.get("version", "")
        if not (version.isascii() and version.isdigit()) or len(version) > 12:
            raise Problem("The form names no flow version; reload the page.", status=400)
        # One retry per version of the flow: a double click replays, a later retry is a new one.
        await client.retry(
            flow_id, idempotency_key=f"console-retry-{flow_id}-v{version}", if_match=f'"{version}"'
        )
        return redirect(f"{PATH}/flows/{process}/{flow_id}")

    # --- disagreements (reconciliation) --------------------------------------------------------
    @get("/disagreements")
    async def disagreements(
        request: Req, status: DisagreementState = "open", done: AuditValue = None
    ) -> Html:
        principal, csrf = await who(request, "quality:read")
        rows = await ops(request).upstreams.quality.list_disagreements(status=status or None)
        rows.sort(key=lambda d: d.found_at, reverse=True)
        return page(
            "disagreements.html",
            rows=rows,
            shown=status,
            statuses=("open", "repairing", "repaired", "resolved", ""),
            may_repair=allowed(principal, "quality:write"),
            done={"repairing": "Repair started."}.get(done or ""),
            **common(principal, csrf, "disagreements"),
        )

    @post("/disagreements/{disagreement_id:str}/repair")
    async def repair(request: Req, disagreement_id: FlowId) -> Html:
        _, form = await form_of(request, "quality:read", "quality:write")
        version = form.get("version", "")
        if not (version.isascii() and version.isdigit()) or len(version) > 12:
            raise Problem("The form names no version; reload the page.", status=400)
        # One repair per version seen: a double click replays, a later click is refused (409) or new.
        await ops(request).upstreams.quality.repair(
            disagreement_id,
            idempotency_key=f"console-repair-{disagreement_id}-v{version}",
            if_match=f'"{version}"',
        )
        return redirect(f"{PATH}/disagreements?status=repairing&done=repairing")

    # --- approvals -----------------------------------------------------------------------------
    @get("/approvals")
    async def approvals(request: Req, decided: AuditValue = None, verdict: VerdictShown = None) -> Html:
        principal, csrf = await who(request, "quality:read")
        waiting, gathered = await pages.pending_approvals(ops(request).upstreams)
        return page(
            "approvals.html",
            approvals=waiting,
            may_decide=allowed(principal, "quality:approve"),
            decided=decided,
            verdict=verdict,
            warnings=gathered.warnings,
            **common(principal, csrf, "approvals"),
        )

    @post("/approvals/{approval_id:str}/{verdict:str}")
    async def decide(request: Req, approval_id: FlowId, verdict: Verdict) -> Html:
        principal, form = await form_of(request, "quality:approve")
        version = form.get("version", "")
        if not (version.isascii() and version.isdigit()) or len(version) > 12:
            raise Problem("The form names no approval version; reload the page.", status=400)
        comment = form.get("comment", "").strip()[:4000] or None
        # The quality process records the logged-in person as the one deciding (via this service).
        with correlation.amended(acting_for=acting.encode(principal)):
            await ops(request).upstreams.quality.decide(
                approval_id,
                verdict,
                comment,
                idempotency_key=f"console-{verdict}-{approval_id}-v{version}",
                if_match=f'"{version}"',
            )
        return redirect(f"{PATH}/approvals?{urlencode({'decided': approval_id, 'verdict': verdict})}")

    # --- dead letters --------------------------------------------------------------------------
    @get("/dead-letters")
    async def dead_letters(request: Req, replayed: AuditValue = None) -> Html:
        principal, csrf = await who(request, "events:read")
        board = await pages.dead_letter_board(ops(request).upstreams)
        return page(
            "dead_letters.html", board=board, replayed=replayed, **common(principal, csrf, "dead-letters")
        )

    @get("/dead-letters/{stream:str}/{dead_letter_id:str}")
    async def dead_letter(request: Req, stream: Stream, dead_letter_id: Entry) -> Html:
        principal, csrf = await who(request, "events:read")
        letter = await backbone.dead_letter(ops(request).upstreams.redis, stream, dead_letter_id)
        if letter is None:
            raise Problem(
                f"No dead letter {dead_letter_id} on {stream} (replayed already?).",
                status=404,
                slug="not-found",
            )
        return page(
            "dead_letter.html",
            letter=letter,
            may_replay=allowed(principal, "events:replay"),
            **common(principal, csrf, "dead-letters"),
        )

    @post("/dead-letters/{stream:str}/{dead_letter_id:str}/replay")
    async def replay(request: Req, stream: Stream, dead_letter_id: Entry) -> Html:
        await form_of(request, "events:replay")
        done = await backbone.replay(ops(request).upstreams.redis, stream, dead_letter_id)
        if done is None:
            raise Problem(
                f"No dead letter {dead_letter_id} on {stream} (replayed already?).",
                status=404,
                slug="not-found",
            )
        return redirect(f"{PATH}/dead-letters?replayed={done.event_id}")

    # --- audit ---------------------------------------------------------------------------------
    @get("/audit")
    async def audit(
        request: Req,
        record_type: AuditValue = None,
        record_id: AuditValue = None,
        correlation_id: AuditValue = None,
    ) -> Html:
        principal, csrf = await who(request)
        filters = {
            k: v
            for k, v in {
                "record_type": record_type,
                "record_id": record_id,
                "correlation_id": correlation_id,
            }.items()
            if v
        }
        hits: list[pages.AuditHit] = []
        warnings: list[tuple[str, str]] = []
        skipped: list[str] = []
        if filters:
            hits, gathered, skipped = await pages.audit_history(ops(request).upstreams, principal, filters)
            warnings = gathered.warnings
        return page(
            "audit.html",
            filters=filters,
            hits=hits,
            warnings=warnings,
            skipped=skipped,
            **common(principal, csrf, "audit"),
        )

    # --- partner webhooks ----------------------------------------------------------------------
    def webhooks_of(request: Req) -> WebhooksClient:
        return ops(request).upstreams.webhooks

    @get("/webhooks")
    async def webhook_endpoints(request: Req) -> Html:
        principal, csrf = await who(request, "webhooks:read")
        subscriptions = await webhooks_of(request).list_subscriptions()
        return page("webhooks.html", subscriptions=subscriptions, **common(principal, csrf, "webhooks"))

    @get("/webhooks/endpoints/{subscription_id:str}")
    async def webhook_endpoint(
        request: Req, subscription_id: FlowId, status: MessageState = "", done: AuditValue = None
    ) -> Html:
        principal, csrf = await who(request, "webhooks:read")
        client = webhooks_of(request)
        sub = await client.get_subscription(subscription_id)
        found = await client.list_messages(subscription_id=subscription_id, status=status or None, limit=100)
        return page(
            "webhook_endpoint.html",
            sub=sub,
            messages=found.items,
            shown=status,
            once=uuid.uuid4().hex,
            done={"replayed": "Replay queued.", "enabled": "Enabled."}.get(done or ""),
            may_operate=allowed(principal, "webhooks:operate"),
            **common(principal, csrf, "webhooks"),
        )

    @get("/webhooks/messages/{message_id:str}")
    async def webhook_message(request: Req, message_id: FlowId) -> Html:
        principal, csrf = await who(request, "webhooks:read")
        msg = await webhooks_of(request).get_message(message_id)
        return page(
            "webhook_message.html",
            msg=msg,
            once=uuid.uuid4().hex,
            may_operate=allowed(principal, "webhooks:operate"),
            **common(principal, csrf, "webhooks"),
        )

    @post("/webhooks/messages/{message_id:str}/retry")
    async def webhook_retry(request: Req, message_id: FlowId) -> Html:
        _, form = await form_of(request, "webhooks:read", "webhooks:operate")
        await webhooks_of(request).retry(message_id, idempotency_key=_once(form, "retry", message_id))
        return redirect(f"{PATH}/webhooks/messages/{message_id}")

    @post("/webhooks/endpoints/{subscription_id:str}/replay")
    async def webhook_replay(request: Req, subscription_id: FlowId) -> Html:
        _, form = await form_of(request, "webhooks:read", "webhooks:operate")
        try:
            since = datetime.fromisoformat(form.get("since", "")).replace(tzinfo=UTC)
        except ValueError as exc:
            raise Problem("Give the time to replay from.", status=400) from exc
        replay = Replay(since=since, include_delivered=form.get("include_delivered") == "true")
        key = _once(form, "replay", subscription_id)
        await webhooks_of(request).replay(subscription_id, replay, idempotency_key=key)
        return redirect(f"{PATH}/webhooks/endpoints/{subscription_id}?done=replayed")

    @post("/webhooks/endpoints/{subscription_id:str}/enable")
    async def webhook_enable(request: Req, subscription_id: FlowId) -> Html:
        _, form = await form_of(request, "webhooks:read", "webhooks:operate")
        await webhooks_of(request).enable(
            subscription_id, idempotency_key=_once(form, "enable", subscription_id)
        )
        return redirect(f"{PATH}/webhooks/endpoints/{subscription_id}?done=enabled")

    # --- errors as pages -----------------------------------------------------------------------
    def logged_out(request: Req, exc: Exception) -> Html:
        return redirect(f"{PATH}/login")

    def forbidden(request: Req, exc: Exception) -> Html:
        scopes = exc.scopes if isinstance(exc, Forbidden) else ()
        detail = f"Your client lacks the scope {' '.join(scopes)} this page needs."
        return page("error.html", status=403, title="Not allowed", detail=detail)

    def problem(request: Req, exc: Exception) -> Html:
        if isinstance(exc, Problem):
            return page("error.html", status=exc.status, title=exc.title, detail=exc.detail)
        if isinstance(exc, UpstreamProblem) and exc.status < 500:
            detail = str(exc.problem.get("detail", "")) or str(exc)
            return page(
                "error.html", status=exc.status, title=str(exc.problem.get("title", "Refused")), detail=detail
            )
        if isinstance(exc, HTTPException):
            detail = str(exc.detail) if exc.status_code < 500 else "Something went wrong."
            return page("error.html", status=exc.status_code, title="Request not understood", detail=detail)
        return page(
            "error.html",
            status=503,
            title="Upstream unavailable",
            detail="A system behind this page did not answer; try again shortly.",
        )

    return Router(
        path=PATH,
        route_handlers=[
            login_form,
            login,
            logout,
            monitors,
            flows,
            flow,
            retry,
            disagreements,
            repair,
            approvals,
            decide,
            dead_letters,
            dead_letter,
            replay,
            audit,
            webhook_endpoints,
            webhook_endpoint,
            webhook_message,
            webhook_retry,
            webhook_replay,
            webhook_enable,
            create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
        ],
        include_in_schema=False,
        exception_handlers={
            LoggedOut: logged_out,
            Forbidden: forbidden,
            Problem: problem,
            HTTPException: problem,
            **dict.fromkeys(FAILURES, problem),
        },
    )
