"""Which equipment a device is, at a given instant: the cross-reference registry answers (a
machine's own id in the `shopfloor` id space ↔ our MES equipment id, with validity dates), and the
answer is kept for a while so a busy machine costs one lookup a minute, not one per message."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from connectors.shopfloor.readings import RETRY_LATER_4XX
from contracts.clients.base import UpstreamProblem
from contracts.clients.xref import XrefClient
from contracts.models import xref


class RegistryUnavailable(Exception):
    """The registry cannot be asked now and nothing known answers: try the readings again later."""


@dataclass(frozen=True, slots=True)
class Answer:
    equipment_id: str | None  # None: the device maps to no equipment at that instant
    why: str  # for an unknown device, what the registry said
    valid_from: datetime | None
    valid_to: datetime | None
    fetched: float  # time.monotonic()

    def covers(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (
            self.valid_to is None or at < self.valid_to
        )


class DeviceMap:
    def __init__(self, registry: XrefClient, *, ttl: float, unknown_ttl: float) -> None:
        self.registry = registry
        self.ttl = ttl
        self.unknown_ttl = unknown_ttl
        self._known: dict[str, Answer] = {}

    async def equipment(self, device: str, at: datetime) -> Answer:
        cached = self._known.get(device)
        age = time.monotonic() - cached.fetched if cached else 0.0
        if cached and cached.covers(at) and age < (self.ttl if cached.equipment_id else self.unknown_ttl):
            return cached
        try:
            found = await self.registry.resolve(
                xref.Kind.EQUIPMENT, xref.IdSpace.SHOPFLOOR, device, to=xref.System.MES, at=at
            )
        except Exception as exc:
            if isinstance(exc, UpstreamProblem) and exc.status < 500 and exc.status not in RETRY_LATER_4XX:
                # 404: mapped to nothing; another 4xx (a 400 for an id it does not take): no
                # equipment can ever be found for this device, which must not hold back the rest.
                why = f"{exc.slug}: {exc.problem.get('detail', '')}"
                answer = Answer(None, why, None, None, time.monotonic())
            elif cached and cached.covers(at):
                return cached  # the registry is down: what it said before still holds for that instant
            else:
                raise RegistryUnavailable(str(exc)) from exc
        else:
            ref = next((r for r in found.ids if r.system == xref.System.MES), None)
            answer = (
                Answer(ref.system_id, "", ref.valid_from, ref.valid_to, time.monotonic())
                if ref
                else Answer(None, "no MES equipment mapped", None, None, time.monotonic())
            )
        self._known[device] = answer
        return answer
