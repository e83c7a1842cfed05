"""The MQTT side (aiomqtt): a Sparkplug B host session and a plain-JSON session on the plant's broker.

- **Sparkplug B** as its specification asks of a Primary Host Application: a clean session, the
  STATE death certificate as the Will (QoS 1, retained) and STATE online once subscribed, so edge
  nodes that wait for their primary host publish their births to us. Data arrives as the edge
  nodes publish it (QoS 0 by the specification); what a lost message hides comes back with the
  rebirth the host asks for.
- **Plain JSON** topics on a persistent session (clean session off, fixed client id) at QoS 1:
  the broker keeps what arrives while the connector is away and redelivers every message until
  the connector acknowledges it, which it does only after committing it.

Both reconnect with backoff for as long as the connector runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import msgspec

from connectors.shopfloor import json_topics
from connectors.shopfloor.backoff import Backoff
from connectors.shopfloor.ingest import Delivery
from connectors.shopfloor.metrics import ShopfloorMetrics
from connectors.shopfloor.plant import JsonTopics, StateTable
from connectors.shopfloor.readings import millis
from connectors.shopfloor.sparkplug import SparkplugHost

log = logging.getLogger("plantbridge.shopfloor")
Deliver = Callable[[Delivery], None]


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    client_id: str
    keepalive: int

    @classmethod
    def from_url(cls, url: str, *, username: str, password: str, client_id: str, keepalive: int) -> Broker:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"MQTT URL {url!r}: expected mqtt://host:port or mqtts://host:port")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=username or (unquote(parts.username) if parts.username else None),
            password=password or (unquote(parts.password) if parts.password else None),
            client_id=client_id,
            keepalive=keepalive,
        )

    def client(self, suffix: str, *, clean_session: bool, will: aiomqtt.Will | None = None) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=f"{self.client_id}-{suffix}",
            clean_session=clean_session,
            keepalive=self.keepalive,
            will=will,
            tls_context=ssl.create_default_context() if self.tls else None,
            timeout=10,
        )


def _payload(message: aiomqtt.Message) -> bytes:
    raw: Any = message.payload
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    return b"" if raw is None else str(raw).encode()


class SparkplugSession:
    def __init__(
        self, broker: Broker, host: SparkplugHost, deliver: Deliver, metrics: ShopfloorMetrics
    ) -> None:
        self.broker = broker
        self.host = host
        self.deliver = deliver
        self.metrics = metrics
        self.client: aiomqtt.Client | None = None
        metrics.watch_queue(lambda: len(self.client.messages) if self.client else 0)

    async def run(self) -> None:
        backoff = Backoff("mqtt-sparkplug", self.metrics)
        expiry = asyncio.create_task(self._expire())
        try:
            while True:
                try:
                    await self._session(backoff)
                except aiomqtt.MqttError as exc:
                    log.warning(
                        "Sparkplug session on %s:%s lost: %s", self.broker.host, self.broker.port, exc
                    )
                await backoff.wait()
        finally:
            expiry.cancel()

    async def _session(self, backoff: Backoff) -> None:
        host = self.host
        # The Will and the birth carry the same timestamp, so edge nodes can tell an old death
        # of ours from the current one (spec 5.2).
        stamp = millis(datetime.now(UTC))
        will = aiomqtt.Will(host.state_topic, host.state_payload(False, stamp), qos=1, retain=True)
        async with self.broker.client("sparkplug", clean_session=True, will=will) as client:
            self.client = client
            for topic in host.subscriptions:
                await client.subscribe(topic, qos=1)
            await client.subscribe(host.state_topic, qos=1)
            await client.publish(host.state_topic, host.state_payload(True, stamp), qos=1, retain=True)
            backoff.connected()
            log.info(
                "Sparkplug host %s online at %s:%s", host.config.host_id, self.broker.host, self.broker.port
            )
            now = datetime.now(UTC)
            for ncmd in host.connected(now):
                await client.publish(ncmd, host.rebirth_payload(now), qos=0)
            try:
                async for message in client.messages:
                    await self._handle(client, message, stamp)
            except asyncio.CancelledError:
                # Leaving on purpose: say so now rather than leave it to the Will (spec 5.2).
                with contextlib.suppress(Exception):
                    offline = host.state_payload(False, stamp)
                    await asyncio.wait_for(client.publish(host.state_topic, offline, qos=1, retain=True), 2)
                raise

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message, stamp: int) -> None:
        topic, now = message.topic.value, datetime.now(UTC)
        if topic == self.host.state_topic:
            # Someone (an old Will of ours) says we are offline: we are not (spec 5.2).
            with_state: Any = _json(_payload(message))
            if isinstance(with_state, dict) and with_state.get("online") is False:
                await client.publish(topic, self.host.state_payload(True, stamp), qos=1, retain=True)
            return
        out = self.host.handle(topic, _payload(message), now)
        if out.readings or out.troubles:
            self.deliver(Delivery(out.readings, out.troubles))
        if out.rebirth:
            await client.publish(out.rebirth, self.host.rebirth_payload(now), qos=0)

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            gone = self.host.expired(datetime.now(UTC))
            if gone:
                self.deliver(Delivery(gone))


class JsonSession:
    def __init__(
        self,
        broker: Broker,
        config: JsonTopics,
        states: StateTable,
        deliver: Deliver,
        metrics: ShopfloorMetrics,
    ) -> None:
        self.broker = broker
        self.config = config
        self.states = states
        self.deliver = deliver
        self.metrics = metrics
        self.client: aiomqtt.Client | None = None
        metrics.watch_queue(lambda: len(self.client.messages) if self.client else 0)

    async def run(self) -> None:
        backoff = Backoff("mqtt-json", self.metrics)
        while True:
            try:
                await self._session(backoff)
            except aiomqtt.MqttError as exc:
                log.warning("MQTT session on %s:%s lost: %s", self.broker.host, self.broker.port, exc)
            await backoff.wait()

    async def _session(self, backoff: Backoff) -> None:
        client = self.broker.client("json", clean_session=False)
        # Acknowledge only after the commit. aiomqtt has no switch for it yet (empicano/aiomqtt#345);
        # paho's own, set before connecting so the first redelivered message is covered too. Each
        # connection has its own client, so a late acknowledgement can never reach a later one.
        client._client.manual_ack_set(True)
        self.client = client
        async with client:
            for topic in self.config.topics:
                await client.subscribe(topic, qos=1)
            backoff.connected()
            log.info("MQTT JSON topics subscribed at %s:%s", self.broker.host, self.broker.port)
            async for message in client.messages:
                decoded = json_topics.decode(
                    message.topic.value, _payload(message), datetime.now(UTC), self.config.fields, self.states
                )
                self.deliver(
                    Delivery(
                        [decoded.reading] if decoded.reading else [],
                        decoded.troubles,
                        decoded.sequenced,
                        ack=functools.partial(client._client.ack, message.mid, message.qos),
                    )
                )


def _json(raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
