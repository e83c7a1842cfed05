"""The inbound endpoint: one path per configured source, authenticated by the webhook signature."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.params import Parameter

from connectors.webhooks.inbound.service import Inbound
from connectors.webhooks.inbound.sources import SOURCE_NAME
from contracts.kit.responses import problems
from contracts.models import webhooks as m

SourceName = Annotated[str, Parameter(pattern=SOURCE_NAME, max_length=63)]


@post(
    "/inbound/{source:str}",
    status_code=200,
    tags=["inbound"],
    responses=problems(400, 401, 404, 409, 413, 415, 422, 503),
    summary="Receive a Standard Webhooks webhook from a configured source",
    description="No bearer token: the `webhook-signature` (HMAC-SHA256 with one of the source's "
    "secrets over `webhook-id.webhook-timestamp.body`) authenticates the sender. The timestamp must be "
    "within 5 minutes. The payload's type selects the source's mapping to one of our commands, which "
    "is applied once per `webhook-id`: the sender's retry is answered with the first result "
    "(`Idempotent-Replayed: true`), an identical replay is 409, the id with another body 422.",
)
async def receive(request: Request[Any, Any, Any], source: SourceName) -> Response[m.InboundAccepted]:
    inbound: Inbound = request.app.state["inbound"]
    headers = {
        k: request.headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    content_type = request.headers.get("content-type", "")
    accepted, repeated = await inbound.receive(source, headers, await request.body(), content_type)
    return Response(accepted, headers={"Idempotent-Replayed": "true"} if repeated else {})


SIGNED_ROUTES = [receive]
