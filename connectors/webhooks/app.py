"""Webhooks service: the composition root.

Outbound, the `webhooks` consumer group turns every event of the catalogue into messages for the
subscriptions due it, and the dispatcher delivers them. Inbound, each configured source posts to
`/webhooks/v1/inbound/<source>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar

from connectors.webhooks import fanout
from connectors.webhooks.delivery import DeliveryMetrics, Dispatcher, Policy
from connectors.webhooks.endpoints import Endpoints, Guard, parse_networks
from connectors.webhooks.inbound.commands import Qms
from connectors.webhooks.inbound.routes import SIGNED_ROUTES
from connectors.webhooks.inbound.service import Inbound
from connectors.webhooks.inbound.sources import Configured, load_sources
from connectors.webhooks.revoked import RevokedClients
from connectors.webhooks.routes import ROUTES
from connectors.webhooks.secrets import SecretBox
from connectors.webhooks.service import Deps
from connectors.webhooks.settings import WebhooksSettings
from connectors.webhooks.store import metadata
from contracts.clients.qms import QmsClient
from contracts.clients.qms_v2 import QmsV2Client
from contracts.clients.tokens import ClientCredentials
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.consumer import consumer_lifespan
from contracts.kit.lifetimes import from_state
from contracts.kit.relay import stop_tasks
from contracts.kit.settings import load_settings
from contracts.topology import by_name

SPEC = ServiceSpec(
    by_name("webhooks"),
    title="Plantbridge webhooks API",
    description="Partners subscribe endpoints to event types of the AsyncAPI catalogue and receive "
    "them as Standard Webhooks (signed `webhook-id`, `webhook-timestamp`, `webhook-signature`), at "
    "least once, retried for about a day; a supplier's client only about its own records. Operators "
    "see every attempt, retry and replay. Configured sources post webhooks in, mapped to our commands.",
    routes=ROUTES,
    signed_routes=SIGNED_ROUTES,
    metadata=metadata,
    dependencies={"needs": from_state("deps")},
)


def create_app(settings: WebhooksSettings | None = None, **overrides: Any) -> Litestar:
    settings = settings or load_settings(WebhooksSettings, SPEC.service.env_prefix, **overrides)
    guard = Guard(parse_networks(settings.allowed_networks), settings.allow_http)
    box = SecretBox(settings.secret_encryption_key)
    sources = load_sources(settings.sources_file)  # a bad file stops the service here
    in_flight: set[str] = set()  # messages the dispatcher is delivering (the API will not retry them)
    app = create_service_app(
        SPEC,
        settings,
        lifespans=[
            consumer_lifespan(lambda a: [fanout.consumer(runtime_of(a).consumer(fanout.GROUP))]),
            _revoked_clients,
            _dispatcher(settings, guard, box, in_flight),
            _inbound(settings, sources),
        ],
    )
    app.state["deps"] = Deps(guard, box, settings.secret_overlap, in_flight)
    return app


def _dispatcher(settings: WebhooksSettings, guard: Guard, box: SecretBox, in_flight: set[str]) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        endpoints = Endpoints(
            guard,
            concurrency=settings.endpoint_concurrency,
            connect_timeout=settings.connect_timeout_seconds,
            timeout=settings.request_timeout_seconds,
            max_response_bytes=settings.max_response_bytes,
        )
        dispatcher = Dispatcher(
            runtime.db,
            endpoints,
            box,
            Policy(
                schedule=settings.schedule,
                jitter=settings.retry_jitter,
                disable_after=settings.disable_after,
                timeout=settings.connect_timeout_seconds + settings.request_timeout_seconds,
            ),
            max_in_flight=settings.max_in_flight,
            endpoint_concurrency=settings.endpoint_concurrency,
            poll_seconds=settings.poll_seconds,
            retention=settings.event_retention,
            metrics=DeliveryMetrics(runtime.metrics.registry),
            in_flight=in_flight,
        )
        app.state["dispatcher"] = dispatcher
        task = asyncio.create_task(dispatcher.run(), name="webhook-dispatcher")
        try:
            yield
        finally:
            await stop_tasks([task])
            endpoints.close()

    return lifespan


@asynccontextmanager
async def _revoked_clients(app: Litestar) -> AsyncIterator[None]:
    """Follows the revocations the token verifier already hears (no Redis subscription of its own)."""
    runtime = runtime_of(app)
    if runtime.verifier is None:
        raise RuntimeError("the webhooks service needs its token verifier to follow revocations")
    revoked = RevokedClients(runtime.db)
    task = asyncio.create_task(revoked.run(), name="webhook-revoked-clients")
    stop_hearing = runtime.verifier.revocations.on_revoked(revoked.heard)
    try:
        yield
    finally:
        stop_hearing()
        await stop_tasks([task])


def _inbound(settings: WebhooksSettings, sources: dict[str, Configured]) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        qms = None
        if sources:
            token = ClientCredentials(
                settings.auth_token_url,
                settings.client_id,
                settings.client_secret,
                by_name("webhooks").client_scopes,
            )
            options: dict[str, Any] = {
                "token": token,
                "timeout": settings.upstream_timeout_seconds,
                "attempts": 2,
            }
            qms = Qms(QmsClient(settings.qms_url, **options), QmsV2Client(settings.qms_url, **options))
        app.state["inbound"] = Inbound(
            sources=sources,
            db=runtime_of(app).db,
            qms=qms,
            tolerance_seconds=settings.timestamp_tolerance_seconds,
            json_max_depth=settings.json_max_depth,
        )
        try:
            yield
        finally:
            if qms is not None:
                await qms.aclose()

    return lifespan
