"""Simulated machines publishing plain JSON on MQTT topics, with a store-and-forward buffer.

Each machine publishes its whole status to `<prefix>/<name>/status` at QoS 1 on a persistent
session: `{"seq", "ts", "state", "alarm", "good", "scrap"}`, `seq` increasing by one per message.
A message the broker has not acknowledged stays in the machine's buffer and is sent again, in
order, after a reconnect (so the broker may receive it twice: the connector recognises `seq`).
Commands arrive on `<prefix>/<name>/command`: `{"command": "breakdown", "alarm": "..."}` or
`{"command": "recover"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from datetime import UTC, datetime

import aiomqtt

from connectors.shopfloor.simulator.machine import Machine

log = logging.getLogger("plantbridge.simulator")


class JsonEdge:
    def __init__(
        self, machines: list[Machine], *, host: str, port: int, prefix: str = "plant/machines"
    ) -> None:
        self.machines = {m.name: m for m in machines}
        self.host, self.port, self.prefix = host, port, prefix
        self.seq: dict[str, int] = dict.fromkeys(self.machines, 0)
        self.outbox: deque[tuple[str, bytes]] = deque()
        self.published = 0  # messages the broker acknowledged
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.client: aiomqtt.Client | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def publish(self, machine: Machine) -> None:
        self.seq[machine.name] += 1
        body = {
            "seq": self.seq[machine.name],
            "ts": datetime.now(UTC).isoformat(),
            "state": machine.state,
            "alarm": machine.alarm,
            "good": machine.good,
            "scrap": machine.scrap,
        }
        self.outbox.append((f"{self.prefix}/{machine.name}/status", json.dumps(body).encode()))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=f"sim-json-{self.prefix.replace('/', '-')}",
                    clean_session=False,
                    keepalive=5,
                ) as client:
                    self.client = client
                    await client.subscribe(f"{self.prefix}/+/command", qos=1)
                    commands = asyncio.create_task(self._commands(client))
                    try:
                        await self._forward(client)
                    finally:
                        commands.cancel()
                        self.client = None
            except aiomqtt.MqttError as exc:
                log.info("JSON machines: %s; reconnecting", exc)
            await asyncio.sleep(0.5)

    async def _forward(self, client: aiomqtt.Client) -> None:
        while True:
            while self.outbox:
                topic, payload = self.outbox[0]
                await client.publish(topic, payload, qos=1)  # returns once the broker has it
                self.outbox.popleft()
                self.published += 1
            self._wake.clear()
            await self._wake.wait()

    async def _commands(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            name = message.topic.value.split("/")[-2]
            machine = self.machines.get(name)
            with contextlib.suppress(ValueError, AttributeError):
                command = json.loads(
                    message.payload if isinstance(message.payload, bytes | bytearray) else b""
                )
                if machine is not None and command.get("command") == "breakdown":
                    machine.breakdown(str(command.get("alarm") or ""))
                elif machine is not None and command.get("command") == "recover":
                    machine.recover()
                else:
                    continue
                await self.publish(machine)

    def machine_map(self) -> str:
        return "\n".join(["[json]", f'topics = ["{self.prefix}/+/status"]', ""])


def device_id(prefix: str, machine: str) -> str:
    return f"mqtt:{prefix}/{machine}/status"
