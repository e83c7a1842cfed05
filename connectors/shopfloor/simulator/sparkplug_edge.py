"""Simulated machines as devices of one Sparkplug B edge node (aiomqtt, pysparkplug payloads).

Behaves as the specification asks of an edge node: its NDEATH (with `bdSeq`) is the MQTT Will;
with a primary host configured it publishes its births only once that host's STATE says online,
and stops publishing while it says offline; it answers `Node Control/Rebirth`; every message of a
session carries the next `seq`; data is reported by exception (only metrics that changed).
Devices accept DCMD `Command/Breakdown` (the alarm text) and `Command/Recover`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiomqtt
import pysparkplug as spb

from connectors.shopfloor.simulator.machine import Machine

log = logging.getLogger("plantbridge.simulator")
NS = "spBv1.0"
T = spb.DataType
METRICS = (  # name, alias, type, the machine's attribute
    ("State", 1, T.INT32, "code"),
    ("Alarm", 2, T.STRING, "alarm"),
    ("Counts/Good", 3, T.UINT64, "good"),
    ("Counts/Scrap", 4, T.UINT64, "scrap"),
)


def _now() -> int:
    return spb.get_current_timestamp()


class SparkplugEdge:
    def __init__(
        self,
        machines: list[Machine],
        *,
        host: str,
        port: int,
        group: str,
        node: str,
        primary_host: str | None = None,
    ) -> None:
        self.machines = {m.name: m for m in machines}
        self.host, self.port = host, port
        self.group, self.node = group, node
        self.primary_host = primary_host
        self.bd_seq = 0
        self.seq = 0
        self.client: aiomqtt.Client | None = None
        self.born = False  # births published in this session (and the primary host online)
        self._sent: dict[str, dict[str, Any]] = {}  # what each device last reported
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.sessions = 0

    def topic(self, kind: str, device: str | None = None) -> str:
        return f"{NS}/{self.group}/{kind}/{self.node}" + (f"/{device}" if device else "")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                log.info("edge node %s: %s; reconnecting", self.node, exc)
            self.born = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _session(self) -> None:
        self.bd_seq = (self.bd_seq + 1) % 256
        will = aiomqtt.Will(self.topic("NDEATH"), self._death_payload(), qos=1, retain=False)
        async with aiomqtt.Client(
            self.host,
            self.port,
            identifier=f"sim-{self.group}-{self.node}",
            clean_session=True,
            will=will,
            keepalive=5,
        ) as client:
            self.client = client
            self.sessions += 1
            await client.subscribe(self.topic("NCMD"), qos=1)
            await client.subscribe(f"{NS}/{self.group}/DCMD/{self.node}/+", qos=1)
            if self.primary_host:
                await client.subscribe(f"{NS}/STATE/{self.primary_host}", qos=1)
            else:
                await self.birth()
            try:
                async for message in client.messages:
                    await self._on_message(message)
            finally:
                self.client = None

    def _death_payload(self) -> bytes:
        bd_seq = spb.Metric(timestamp=None, name="bdSeq", datatype=T.INT64, value=self.bd_seq)
        return spb.NDeath(timestamp=None, bd_seq_metric=bd_seq).encode()

    async def birth(self) -> None:
        """NBIRTH (seq 0, this session's bdSeq) then a DBIRTH per device with every value."""
        async with self._lock:
            if self.client is None:
                return
            self.seq = 0
            node_metrics = [
                spb.Metric(timestamp=None, name="bdSeq", datatype=T.INT64, value=self.bd_seq),
                spb.Metric(timestamp=None, name="Node Control/Rebirth", datatype=T.BOOLEAN, value=False),
            ]
            await self.client.publish(
                self.topic("NBIRTH"),
                spb.NBirth(timestamp=_now(), seq=0, metrics=node_metrics).encode(),
                qos=0,
            )
            for name, machine in self.machines.items():
                metrics = [
                    spb.Metric(
                        timestamp=None, name=metric, datatype=kind, value=getattr(machine, read), alias=alias
                    )
                    for metric, alias, kind, read in METRICS
                ]
                metrics += [
                    spb.Metric(timestamp=None, name="Command/Breakdown", datatype=T.STRING, value=""),
                    spb.Metric(timestamp=None, name="Command/Recover", datatype=T.BOOLEAN, value=False),
                ]
                payload = spb.DBirth(timestamp=_now(), seq=self._next_seq(), metrics=metrics).encode()
                await self.client.publish(self.topic("DBIRTH", name), payload, qos=0)
                self._sent[name] = {metric: getattr(machine, read) for metric, _, _, read in METRICS}
            self.born = True

    async def publish(self, machine: Machine) -> None:
        """DDATA with the metrics that changed since the device last reported (nothing unless born)."""
        async with self._lock:
            if not self.born or self.client is None:
                return
            sent = self._sent.setdefault(machine.name, {})
            changed = [
                spb.Metric(
                    timestamp=None, name=None, datatype=kind, value=getattr(machine, read), alias=alias
                )
                for metric, alias, kind, read in METRICS
                if sent.get(metric) != getattr(machine, read)
            ]
            if not changed:
                return
            payload = spb.DData(timestamp=_now(), seq=self._next_seq(), metrics=changed).encode()
            with contextlib.suppress(aiomqtt.MqttError):  # lost: the next birth carries the values
                await self.client.publish(self.topic("DDATA", machine.name), payload, qos=0)
            sent.update({metric: getattr(machine, read) for metric, _, _, read in METRICS})

    async def death(self) -> None:
        """Leave on purpose: NDEATH with this session's bdSeq, then disconnect (spec 5.4)."""
        if self.client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self.client.publish(self.topic("NDEATH"), self._death_payload(), qos=1)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _on_message(self, message: aiomqtt.Message) -> None:
        topic, payload = message.topic.value, _bytes(message.payload)
        if topic == f"{NS}/STATE/{self.primary_host}":
            with contextlib.suppress(ValueError):
                online = json.loads(payload).get("online") is True
                if online:
                    await self.birth()  # the primary host is (back) online: it needs our births
                else:
                    self.born = False  # do not publish to a host that is not there
            return
        if topic == self.topic("NCMD"):
            metrics = spb.NCmd.decode(payload).metrics
            if any(m.name == "Node Control/Rebirth" and m.value for m in metrics):
                await self.birth()
            return
        device = topic.rsplit("/", 1)[-1]
        machine = self.machines.get(device)
        if machine is None:
            return
        for metric in spb.DCmd.decode(payload).metrics:
            if metric.name == "Command/Breakdown":
                machine.breakdown(str(metric.value or ""))
            elif metric.name == "Command/Recover" and metric.value:
                machine.recover()
        await self.publish(machine)

    def machine_map(self) -> str:
        return "\n".join(
            [
                "[sparkplug]",
                f'groups = ["{self.group}"]',
                f'host_id = "{self.primary_host or "plantbridge"}"',
                'metrics = { state = "State", alarm = "Alarm", good = "Counts/Good", scrap = "Counts/Scrap" }',  # noqa: E501
                "",
            ]
        )


def device_id(group: str, node: str, machine: str) -> str:
    """The machine's id in the cross-reference registry's shopfloor id space."""
    return f"{NS}/{group}/{node}/{machine}"


def dcmd(command: str, alarm: str = "") -> bytes:
    if command == "breakdown":
        metric = spb.Metric(
            timestamp=None, name="Command/Breakdown", datatype=T.STRING, value=alarm or "E-204"
        )
    else:
        metric = spb.Metric(timestamp=None, name="Command/Recover", datatype=T.BOOLEAN, value=True)
    return spb.DCmd(timestamp=_now(), metrics=[metric]).encode(include_dtypes=True)


def _bytes(payload: object) -> bytes:
    return bytes(payload) if isinstance(payload, bytes | bytearray) else b""
