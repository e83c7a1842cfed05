"""The Sparkplug B host's bookkeeping (specification 3.0, chapter 5): sessions, births, sequence
numbers, deaths and rebirth requests. Pure: the MQTT client hands in each message with the time it
arrived and publishes what comes back; payloads are encoded and decoded by pysparkplug.

- An edge node's session starts with its NBIRTH (carrying `bdSeq`, the number its NDEATH will
  repeat) and `seq`; every later NBIRTH, DBIRTH, NDATA, DDATA and DDEATH of the session carries the
  next `seq` (0-255, wrapping). A gap means messages were lost: the host asks for a rebirth, whose
  birth certificates carry every current value. A number already seen is a replay: not applied.
- Data from a node or device whose birth we did not see cannot be decoded (aliases, types):
  we ask for a rebirth.
- An NDEATH whose `bdSeq` matches the session marks the node and all its devices disconnected;
  one that does not is a stale will from an earlier session and is ignored. A DDEATH marks one
  device disconnected.
- After our own reconnect we ask every node we knew for a rebirth; a node silent past the birth
  timeout is disconnected (its death may have been published while we were away).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pysparkplug as spb

from connectors.shopfloor.plant import Sparkplug, StateTable
from connectors.shopfloor.readings import Problem, Reading, Trouble, device_fault, millis, shown, signal_value
from contracts.models.mes import EquipmentState

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"
BD_SEQ = "bdSeq"


@dataclass
class _Session:
    bd_seq: int | None
    seq: int
    births: dict[str | None, spb.NBirth | spb.DBirth] = field(default_factory=dict)  # None: the node
    machines: set[str] = field(default_factory=set)  # device ids whose births carried machine signals


@dataclass
class Outcome:
    readings: list[Reading] = field(default_factory=list)
    troubles: list[Trouble] = field(default_factory=list)
    rebirth: str | None = None  # NCMD topic of the node to ask for a rebirth


@dataclass(frozen=True, slots=True)
class _Topic:
    group: str
    kind: str
    node: str
    device: str | None

    @property
    def node_key(self) -> str:
        return f"{NAMESPACE}/{self.group}/{self.node}"

    @property
    def key(self) -> str:
        """The device id the registry maps: the node's, or its device's."""
        return self.node_key if self.device is None else f"{self.node_key}/{self.device}"


def _topic(topic: str) -> _Topic | None:
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE or not all(parts):
        return None
    return _Topic(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


class SparkplugHost:
    def __init__(
        self, config: Sparkplug, states: StateTable, *, rebirth_interval: timedelta, birth_timeout: timedelta
    ) -> None:
        self.config = config
        self.states = states
        self.rebirth_interval = rebirth_interval
        self.birth_timeout = birth_timeout
        self.sessions: dict[str, _Session] = {}
        self._asked: dict[str, datetime] = {}  # node key → when we last asked it for a rebirth
        self._awaiting: dict[str, tuple[datetime, set[str]]] = {}  # node → (asked at, its devices)

    # --- what to subscribe and publish ---------------------------------------------------------
    @property
    def subscriptions(self) -> list[str]:
        return [f"{NAMESPACE}/{group}/#" for group in self.config.groups]

    @property
    def state_topic(self) -> str:
        return f"{NAMESPACE}/STATE/{self.config.host_id}"

    @staticmethod
    def state_payload(online: bool, timestamp: int) -> bytes:
        return json.dumps({"online": online, "timestamp": timestamp}).encode()

    @staticmethod
    def rebirth_payload(now: datetime) -> bytes:
        metric = spb.Metric(timestamp=None, name=REBIRTH, datatype=spb.DataType.BOOLEAN, value=True)
        return spb.NCmd(timestamp=millis(now), metrics=[metric]).encode(include_dtypes=True)

    # --- the session ----------------------------------------------------------------------------
    def connected(self, now: datetime) -> list[str]:
        """After (re)connecting: ask every node we knew for a rebirth; our view of them is stale."""
        topics = []
        for node_key, session in self.sessions.items():
            self._awaiting[node_key] = (now, set(session.machines))
            topics.append(self._ncmd(node_key))
            self._asked[node_key] = now
        self.sessions.clear()
        return topics

    def expired(self, now: datetime) -> list[Reading]:
        """Devices of nodes that did not answer the rebirth request within the birth timeout."""
        gone: list[Reading] = []
        for node_key, (asked, devices) in list(self._awaiting.items()):
            if now - asked >= self.birth_timeout:
                del self._awaiting[node_key]
                gone += [Reading(d, now, state=EquipmentState.DISCONNECTED) for d in sorted(devices)]
        return gone

    def handle(self, topic: str, payload: bytes, received_at: datetime) -> Outcome:
        parsed = _topic(topic)
        if parsed is None or parsed.kind in ("NCMD", "DCMD") or parsed.group == "STATE":
            return Outcome()  # commands (ours or another host's) and STATE are not machine data
        if fault := device_fault(parsed.key):
            # A node or device id no registry lookup could answer (too long, control characters):
            # recorded under a name the database takes, and never folded, stored or looked up.
            return Outcome(troubles=[Trouble(shown(parsed.key), Problem.UNKNOWN_DEVICE, fault)])
        out = Outcome()
        try:
            self._dispatch(parsed, payload, received_at, out)
        except Exception as exc:  # untrusted bytes through a third-party decoder: any failure is malformed
            out.troubles.append(Trouble(parsed.key, Problem.MALFORMED, f"{parsed.kind}: {exc}"[:500]))
            if parsed.node_key in self.sessions:
                self._ask_rebirth(parsed, received_at, out)
        return out

    def _dispatch(self, t: _Topic, raw: bytes, now: datetime, out: Outcome) -> None:
        if t.kind == "NBIRTH":
            birth = spb.NBirth.decode(raw)
            self._awaiting.pop(t.node_key, None)
            born = self.sessions[t.node_key] = _Session(_bd_seq(birth.metrics), birth.seq, {None: birth})
            self._born(born, t.key, birth, now, out)
        elif t.kind == "NDEATH":
            death = spb.NDeath.decode(raw)
            session = self.sessions.get(t.node_key)
            if session is None or session.bd_seq != _int(death.bd_seq_metric.value):
                return  # a stale will of an earlier session, or a node we never saw born
            del self.sessions[t.node_key]
            # A will carries no useful time: the node is offline as of now (spec 5.7).
            out.readings += [
                Reading(d, now, state=EquipmentState.DISCONNECTED) for d in sorted(session.machines)
            ]
        elif t.kind in ("DBIRTH", "NDATA", "DDATA", "DDEATH"):
            self._in_session(t, raw, now, out)

    def _in_session(self, t: _Topic, raw: bytes, now: datetime, out: Outcome) -> None:
        session = self.sessions.get(t.node_key)
        if session is None:
            out.troubles.append(Trouble(t.key, Problem.NO_BIRTH, f"{t.kind} before the node's NBIRTH"))
            self._ask_rebirth(t, now, out)
            return
        if t.kind == "DBIRTH":
            dbirth = spb.DBirth.decode(raw)
            if self._sequence(session, dbirth.seq, t, now, out):
                session.births[t.device] = dbirth
                self._born(session, t.key, dbirth, now, out)
            return
        if t.kind == "DDEATH":
            ddeath = spb.DDeath.decode(raw)
            if self._sequence(session, ddeath.seq, t, now, out):
                session.births.pop(t.device, None)
                if t.key in session.machines:
                    session.machines.discard(t.key)
                    out.readings.append(Reading(t.key, now, state=EquipmentState.DISCONNECTED))
            return
        birth = session.births.get(t.device)
        if birth is None:
            out.troubles.append(Trouble(t.key, Problem.NO_BIRTH, f"{t.kind} before the device's DBIRTH"))
            self._ask_rebirth(t, now, out)
            return
        data: spb.NData | spb.DData = (spb.NData if t.kind == "NDATA" else spb.DData).decode(raw, birth=birth)
        if self._sequence(session, data.seq, t, now, out):
            self._read(t.key, data, now, out)

    def _sequence(self, session: _Session, seq: int, t: _Topic, now: datetime, out: Outcome) -> bool:
        """True when the message is to be applied: the next number, or a later one after a gap."""
        expected = (session.seq + 1) % 256
        ahead = (seq - expected) % 256
        if ahead >= 128:
            out.troubles.append(
                Trouble(t.key, Problem.OUT_OF_ORDER, f"{t.kind} seq {seq} already seen (expected {expected})")
            )
            return False
        if ahead:
            out.troubles.append(
                Trouble(t.key, Problem.SEQUENCE_GAP, f"{t.kind} seq {seq}, expected {expected}: {ahead} lost")
            )
            self._ask_rebirth(t, now, out)
        session.seq = seq
        return True

    def _ask_rebirth(self, t: _Topic, now: datetime, out: Outcome) -> None:
        last = self._asked.get(t.node_key)
        if last is None or now - last >= self.rebirth_interval:
            self._asked[t.node_key] = now
            out.rebirth = self._ncmd(t.node_key)

    def _ncmd(self, node_key: str) -> str:
        _, group, node = node_key.split("/", 2)
        return f"{NAMESPACE}/{group}/NCMD/{node}"

    # --- metrics → readings ---------------------------------------------------------------------
    def _born(self, session: _Session, device: str, birth: Any, now: datetime, out: Outcome) -> None:
        """A birth's readings; a node or device whose birth carries machine signals is a machine."""
        before = len(out.readings)
        self._read(device, birth, now, out)
        if len(out.readings) > before:
            session.machines.add(device)

    def _read(self, device: str, payload: Any, now: datetime, out: Outcome) -> None:
        """One reading per distinct metric timestamp, in the order the metrics came."""
        names = self.config.metrics
        values: dict[str, Any] = {}
        current: datetime | None = None
        for metric in payload.metrics:
            if metric.is_historical or metric.name not in (names.state, names.alarm, names.good, names.scrap):
                continue  # history is not the machine's state now; other metrics are not ours
            at = min(_when(metric.timestamp or payload.timestamp), now)
            signal = _signal(names, metric.name)
            if current is not None and (at != current or signal in values):
                out.readings.append(self._reading(device, current, values, out))
                values = {}
            current = at
            values[signal] = None if metric.is_null else metric.value
        if current is not None:
            out.readings.append(self._reading(device, current, values, out))

    def _reading(self, device: str, at: datetime, values: dict[str, Any], out: Outcome) -> Reading:
        fields: dict[str, Any] = {}
        for signal, value in values.items():
            try:
                fields[signal] = signal_value(signal, value, self.states)
            except ValueError as exc:
                out.troubles.append(Trouble(device, Problem.MALFORMED, str(exc)))
        return Reading(device, at, **fields)


def _signal(names: Any, metric: str) -> str:
    return next(s for s in ("state", "alarm", "good", "scrap") if getattr(names, s) == metric)


def _bd_seq(metrics: Any) -> int | None:
    return next((_int(m.value) for m in metrics if m.name == BD_SEQ), None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _when(millis: int | None) -> datetime:
    return datetime.fromtimestamp((millis or 0) / 1000, UTC)
