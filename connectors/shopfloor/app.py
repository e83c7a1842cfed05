"""Shop-floor connector: the composition root.

Sources (OPC UA sessions, the Sparkplug B host, JSON topics) deliver readings to the one ingest
task, which folds them and stages MES commands in the connector's outbox; the writer sends them
to MES. The connector calls MES and the cross-reference registry as its own OAuth2 client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from litestar import Litestar

from connectors.shopfloor import store
from connectors.shopfloor.folding import Rules
from connectors.shopfloor.ingest import Delivery, Ingest
from connectors.shopfloor.mapping import DeviceMap
from connectors.shopfloor.metrics import ShopfloorMetrics
from connectors.shopfloor.mqtt import Broker, JsonSession, SparkplugSession
from connectors.shopfloor.opcua import OpcUaSession
from connectors.shopfloor.plant import Plant, load_plant
from connectors.shopfloor.routes import ROUTES
from connectors.shopfloor.settings import ShopfloorSettings
from connectors.shopfloor.sparkplug import SparkplugHost
from connectors.shopfloor.writer import MesWriter
from contracts.clients.mes import MesClient
from contracts.clients.outbound import Caller, Outbound
from contracts.clients.xref import XrefClient
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.settings import SettingsError
from contracts.topology import by_name

SPEC = ServiceSpec(
    by_name("shopfloor"),
    title="Plantbridge shop-floor connector",
    description="Machines over OPC UA and MQTT (Sparkplug B, JSON topics) drive MES equipment state, "
    "downtime and counted quantities; this API shows the devices heard from, the problems with what "
    "they sent, and the backlog toward MES.",
    routes=ROUTES,
    metadata=store.metadata,
)


def create_app(
    settings: ShopfloorSettings | None = None, *, outbound: Outbound | None = None, **overrides: Any
) -> Litestar:
    caller = Caller.of(SPEC.name, ShopfloorSettings, settings, outbound, overrides)
    settings = caller.settings
    plant = load_plant(settings.mapping_file)  # a wrong machine map stops the start, with where
    broker = None
    if settings.mqtt_url:
        broker = Broker.from_url(
            settings.mqtt_url,
            username=settings.mqtt_username,
            password=settings.mqtt_password,
            client_id=settings.mqtt_client_id,
            keepalive=settings.mqtt_keepalive_seconds,
        )
    elif plant.sparkplug or plant.json:
        raise SettingsError("the machine map names MQTT sources: set SHOPFLOOR_MQTT_URL")
    return create_service_app(SPEC, settings, lifespans=[_connector(caller, plant, broker)])


def _connector(
    caller: Caller[ShopfloorSettings], plant: Plant, broker: Broker | None
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    settings = caller.settings

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        metrics = ShopfloorMetrics(runtime.metrics.registry)
        app.state["shopfloor_metrics"] = metrics
        mes = caller.client(MesClient)
        xref = caller.client(XrefClient)
        rules = Rules(
            debounce=timedelta(seconds=settings.debounce_seconds),
            count_flush=timedelta(seconds=settings.count_flush_seconds),
            down_on_alarm=plant.down_on_alarm,
        )
        devices = DeviceMap(
            xref, ttl=settings.xref_cache_seconds, unknown_ttl=settings.unknown_device_cache_seconds
        )
        ingest: Ingest
        writer = MesWriter(
            runtime.db,
            mes,
            metrics,
            report=lambda trouble: ingest.deliver(Delivery(troubles=[trouble])),
            concurrency=settings.writer_concurrency,
            history=timedelta(hours=settings.history_hours),
        )
        ingest = Ingest(
            runtime.db,
            devices,
            rules,
            metrics,
            batch_max=settings.batch_max,
            batch_wait=settings.batch_wait_seconds,
            on_commands=writer.poke,
        )
        metrics.watch_queue(ingest.queue.qsize)
        # Sources first in the list: they stop first, so the Sparkplug host says it goes offline.
        work: list[Coroutine[Any, Any, None]] = [*_sources(settings, plant, broker, ingest, metrics)]
        work += [ingest.run(), writer.run()]
        tasks = [asyncio.create_task(w) for w in work]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await mes.aclose()
            await xref.aclose()

    return lifespan


def _sources(
    settings: ShopfloorSettings,
    plant: Plant,
    broker: Broker | None,
    ingest: Ingest,
    metrics: ShopfloorMetrics,
) -> list[Coroutine[Any, Any, None]]:
    states = plant.state_table()
    sources: list[Coroutine[Any, Any, None]] = []
    if broker is not None and plant.sparkplug is not None:
        host = SparkplugHost(
            plant.sparkplug,
            states,
            rebirth_interval=timedelta(seconds=settings.rebirth_interval_seconds),
            birth_timeout=timedelta(seconds=settings.birth_timeout_seconds),
        )
        sources.append(SparkplugSession(broker, host, ingest.deliver, metrics).run())
    if broker is not None and plant.json is not None:
        sources.append(JsonSession(broker, plant.json, states, ingest.deliver, metrics).run())
    sources += [OpcUaSession(server, states, ingest.deliver, metrics).run() for server in plant.opcua]
    return sources
