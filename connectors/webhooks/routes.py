"""Webhooks HTTP surface: subscriptions (partners), messages and attempts (partners for their
own, operators for all), and the inbound endpoint per configured source."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, Parameter

from connectors.webhooks import service
from connectors.webhooks.service import OPERATE, READ, SUBSCRIBE, Deps
from contracts.kit.auth import current_principal
from contracts.kit.paging import Paged
from contracts.kit.params import IfMatch, PathId
from contracts.kit.patterns import whole
from contracts.kit.responses import problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.models import webhooks as m

API = "/webhooks/v1"
Needs = NamedDependency[Deps]
Req = Request[Any, Any, Any]
ReadAny = {"any_scope": (SUBSCRIBE, READ)}
OperateAny = {"any_scope": (SUBSCRIBE, OPERATE)}
Owner = {"scopes": (SUBSCRIBE,)}
EventType = Annotated[str | None, Parameter(max_length=200, pattern=whole(r"[a-z0-9_.]+"))]
ClientId = Annotated[str | None, Parameter(max_length=100, pattern=whole(r"[A-Za-z0-9._\-]+"))]
QueryPathId = Annotated[
    str | None, Parameter(min_length=1, max_length=64, pattern=whole(r"[A-Za-z0-9][A-Za-z0-9._:\-]*"))
]


class EventTypeController(Controller):
    path = "/event-types"
    tags = ["subscriptions"]

    @get(
        opt=Owner,
        summary="The event types this client may subscribe to",
        description="From the AsyncAPI catalogue, narrowed to what the token may read. A supplier's "
        "client sees only the types of records the supplier portal shows it (`supplier_filtered`).",
    )
    async def list(self, request: Req) -> m.EventTypeList:
        return service.event_types(current_principal(request))


class SubscriptionController(Controller):
    path = "/subscriptions"
    tags = ["subscriptions"]

    @post(
        opt=Owner,
        responses=problems(403, 422),
        summary="Subscribe an endpoint to event types; the answer holds its signing secret",
        description="The URL must be https and resolve to a public address (SSRF guard). Unknown "
        "event types are 422, types the token may not read 403. The secret (`whsec_...`) is shown "
        "only here and on rotation.",
    )
    async def create(
        self, session: Session, request: Req, needs: Needs, data: JSONBody[m.SubscriptionCreate]
    ) -> Response[m.SubscriptionCreated]:
        created = await service.create(session, needs, current_principal(request), data)
        return versioned(created, status_code=201, location=f"{API}/subscriptions/{created.subscription_id}")

    @get(
        opt=ReadAny,
        responses=problems(422),
        summary="Subscriptions: a partner's own, or every one with webhooks:read",
    )
    async def list(
        self,
        session: Session,
        request: Req,
        page_query: Paged,
        status: FromQuery[m.SubscriptionStatus | None] = None,
        client_id: ClientId = None,
    ) -> m.SubscriptionPage:
        return await service.list_subscriptions(
            session, current_principal(request), page_query, status.value if status else None, client_id
        )

    @get("/{subscription_id:str}", opt=ReadAny, responses=problems(404), summary="One subscription")
    async def get(self, session: Session, request: Req, subscription_id: PathId) -> Response[m.Subscription]:
        return versioned(await service.get(session, current_principal(request), subscription_id))

    @patch(
        "/{subscription_id:str}",
        opt=Owner,
        responses=problems(403, 404, 412, 422),
        summary="Change the endpoint URL, event types or description (the owner only)",
    )
    async def change(
        self,
        session: Session,
        request: Req,
        needs: Needs,
        subscription_id: PathId,
        data: JSONBody[m.SubscriptionUpdate],
        if_match: IfMatch = None,
    ) -> Response[m.Subscription]:
        return versioned(
            await service.change(session, needs, current_principal(request), subscription_id, data, if_match)
        )

    @delete(
        "/{subscription_id:str}",
        opt=Owner,
        status_code=204,
        responses=problems(404, 412),
        summary="Unsubscribe (the owner only); its messages and attempts go with it",
    )
    async def remove(
        self, session: Session, request: Req, subscription_id: PathId, if_match: IfMatch = None
    ) -> None:
        await service.remove(session, current_principal(request), subscription_id, if_match)

    @post(
        "/{subscription_id:str}/rotate-secret",
        opt=Owner,
        status_code=200,
        responses=problems(404),
        summary="A new signing secret; the previous one keeps signing beside it for the overlap",
        description="During the overlap (WEBHOOKS_SECRET_OVERLAP_HOURS, 24 h) every delivery carries two "
        "signatures in `webhook-signature`, so the receiver can switch secrets at its own pace.",
    )
    async def rotate(
        self, session: Session, request: Req, needs: Needs, subscription_id: PathId
    ) -> m.SecretRotated:
        return await service.rotate_secret(session, needs, current_principal(request), subscription_id)

    @post(
        "/{subscription_id:str}/enable",
        opt=OperateAny,
        status_code=200,
        responses=problems(403, 404),
        summary="Send to this endpoint again (after it was disabled); missed events need a replay",
    )
    async def enable(
        self, session: Session, request: Req, subscription_id: PathId
    ) -> Response[m.Subscription]:
        return versioned(
            await service.set_enabled(session, current_principal(request), subscription_id, True)
        )

    @post(
        "/{subscription_id:str}/disable",
        opt=OperateAny,
        status_code=200,
        responses=problems(403, 404),
        summary="Stop sending to this endpoint; its waiting messages fail",
    )
    async def disable(
        self, session: Session, request: Req, subscription_id: PathId
    ) -> Response[m.Subscription]:
        return versioned(
            await service.set_enabled(session, current_principal(request), subscription_id, False)
        )

    @post(
        "/{subscription_id:str}/replay",
        opt=OperateAny,
        status_code=200,
        responses=problems(403, 404, 409, 422),
        summary="Send again what this endpoint was due in a time window",
        description="Failed messages (with `include_delivered` also delivered ones) whose event happened "
        "in the window are queued for one more attempt; events it missed while disabled get new "
        "messages. Receivers drop repeats by `webhook-id`.",
    )
    async def replay(
        self, session: Session, request: Req, subscription_id: PathId, data: JSONBody[m.Replay]
    ) -> m.Replayed:
        return await service.replay(session, current_principal(request), subscription_id, data)


class MessageController(Controller):
    path = "/messages"
    tags = ["messages"]

    @get(
        opt=ReadAny,
        responses=problems(404, 422),
        summary="Messages (one event for one subscription), newest change last; filter by state",
    )
    async def list(
        self,
        session: Session,
        request: Req,
        page_query: Paged,
        subscription_id: QueryPathId = None,
        status: FromQuery[m.MessageStatus | None] = None,
        event_id: QueryPathId = None,
        event_type: EventType = None,
    ) -> m.MessagePage:
        return await service.list_messages(
            session,
            current_principal(request),
            page_query,
            subscription_id=subscription_id,
            status=status.value if status else None,
            event_id=event_id,
            event_type=event_type,
        )

    @get(
        "/{message_id:str}",
        opt=ReadAny,
        responses=problems(404),
        summary="One message with its payload and every attempt (time, status, response code, latency)",
    )
    async def get(self, session: Session, request: Req, message_id: PathId) -> m.MessageDetail:
        return await service.message_detail(session, current_principal(request), message_id)

    @post(
        "/{message_id:str}/retry",
        opt=OperateAny,
        status_code=200,
        responses=problems(403, 404, 409),
        summary="One more attempt now (also for a delivered message: it is sent again)",
    )
    async def retry(self, session: Session, request: Req, needs: Needs, message_id: PathId) -> m.Message:
        return await service.retry(session, current_principal(request), message_id, needs.in_flight)


ROUTES = [EventTypeController, SubscriptionController, MessageController]
