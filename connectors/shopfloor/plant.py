"""The plant's machine map (a TOML file): which machines speak which protocol and what their
signals are called. Configuration, not code: a new machine is a few lines here and one mapping
of its id to our equipment in the cross-reference registry.

```toml
down_on_alarm = true                  # an active alarm means the machine is down

[states]                              # the machines' own state values, per MES state
running = ["running", 1]
idle = ["idle", 2]
down = ["down", "fault", 3]

[[opcua]]
url = "opc.tcp://10.1.4.20:4840"      # user:password@ in the URL when the server asks
security = ""                         # asyncua's, e.g. "Basic256Sha256,SignAndEncrypt,cert.der,key.pem"

[[opcua.machines]]
device = "opcua://cell-3/CNC-07"      # its id in the registry's shopfloor id space
state = "ns=2;s=CNC-07.State"         # node ids of its signals (any may be left out)
alarm = "ns=2;s=CNC-07.Alarm"
good = "ns=2;s=CNC-07.GoodCount"
scrap = "ns=2;s=CNC-07.ScrapCount"

[sparkplug]                           # devices are spBv1.0/<group>/<edge node>[/<device>]
groups = ["PLANT1"]
host_id = "plantbridge"               # the Primary Host Application id edge nodes wait for
metrics = { state = "State", alarm = "Alarm", good = "Counts/Good", scrap = "Counts/Scrap" }

[json]                                # devices are mqtt:<topic>
topics = ["plant1/machines/+/status"]
fields = { seq = "seq", at = "ts", state = "state", alarm = "alarm", good = "good", scrap = "scrap" }
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import msgspec

from contracts.models.common import Input
from contracts.models.mes import EquipmentState

StateValue = str | int | bool
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class OpcUaMachine(Input, kw_only=True):
    device: NonEmpty
    state: str | None = None
    alarm: str | None = None
    good: str | None = None
    scrap: str | None = None

    def nodes(self) -> dict[str, str]:
        """Signal name → node id, for the signals this machine has."""
        signals = {"state": self.state, "alarm": self.alarm, "good": self.good, "scrap": self.scrap}
        return {signal: node for signal, node in signals.items() if node}


class OpcUaServer(Input, kw_only=True):
    url: NonEmpty
    machines: list[OpcUaMachine]
    security: str = ""
    # Publishing interval of the subscription, milliseconds.
    publishing_interval_ms: Annotated[float, msgspec.Meta(gt=0)] = 100.0


class SparkplugMetrics(Input, kw_only=True):
    state: str = "State"
    alarm: str = "Alarm"
    good: str = "Counts/Good"
    scrap: str = "Counts/Scrap"


class Sparkplug(Input, kw_only=True):
    groups: Annotated[list[NonEmpty], msgspec.Meta(min_length=1)]
    host_id: NonEmpty = "plantbridge"
    metrics: SparkplugMetrics = msgspec.field(default_factory=SparkplugMetrics)


class JsonFields(Input, kw_only=True):
    seq: str = "seq"
    at: str = "ts"
    state: str = "state"
    alarm: str = "alarm"
    good: str = "good"
    scrap: str = "scrap"


class JsonTopics(Input, kw_only=True):
    topics: Annotated[list[NonEmpty], msgspec.Meta(min_length=1)]
    fields: JsonFields = msgspec.field(default_factory=JsonFields)


def _default_states() -> dict[EquipmentState, list[StateValue]]:
    return {
        EquipmentState.RUNNING: ["running"],
        EquipmentState.IDLE: ["idle"],
        EquipmentState.DOWN: ["down"],
    }


class Plant(Input, kw_only=True):
    states: dict[EquipmentState, list[StateValue]] = msgspec.field(default_factory=_default_states)
    down_on_alarm: bool = True
    opcua: list[OpcUaServer] = msgspec.field(default_factory=list)
    sparkplug: Sparkplug | None = None
    json: JsonTopics | None = None

    def __post_init__(self) -> None:
        self.state_table()  # refuses a value listed for two states
        devices = [m.device for server in self.opcua for m in server.machines]
        repeated = sorted({d for d in devices if devices.count(d) > 1})
        if repeated:
            raise ValueError(f"OPC UA devices listed twice: {', '.join(repeated)}")

    def state_table(self) -> StateTable:
        table: dict[str, EquipmentState] = {}
        for state, values in self.states.items():
            if state == EquipmentState.DISCONNECTED:
                raise ValueError("`disconnected` is what the connector reports itself; it maps no value")
            for value in values:
                key = _state_key(value)
                if table.get(key, state) != state:
                    raise ValueError(f"state value {value!r} is listed for both {table[key]} and {state}")
                table[key] = state
        return StateTable(table)


class StateTable:
    """The machines' own state values → MES states."""

    def __init__(self, table: dict[str, EquipmentState]) -> None:
        self._table = table

    def __call__(self, value: object) -> EquipmentState | None:
        """The MES state a machine's value stands for; None for an unknown value or type."""
        if not isinstance(value, str | int):  # bool is an int
            return None
        return self._table.get(_state_key(value))


def _state_key(value: StateValue) -> str:
    # 3 (OPC UA Int32), "3" (JSON) and True name the same state; strings compare as written.
    return str(int(value)) if isinstance(value, int) else value


class PlantError(ValueError):
    """The machine map cannot be read; the message says where."""


def load_plant(path: str) -> Plant:
    if not path:
        return Plant()
    try:
        return msgspec.convert(tomllib.loads(Path(path).read_text()), Plant)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError, ValueError) as exc:
        raise PlantError(f"machine map {path}: {exc}") from exc
