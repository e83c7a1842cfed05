"""The Sparkplug B host's bookkeeping against payloads made by pysparkplug: births, aliases,
sequence numbers, deaths, rebirth requests. Pure, no broker (the broker tests are end to end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pysparkplug as spb

from connectors.shopfloor.plant import Plant, Sparkplug
from connectors.shopfloor.readings import Problem, Reading
from connectors.shopfloor.sparkplug import SparkplugHost
from contracts.models.mes import EquipmentState

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
NODE, DEVICE = "spBv1.0/P1/edge-1", "spBv1.0/P1/edge-1/CNC-7"
PLANT = msgspec.convert({"states": {"running": [1], "idle": [2], "down": [3]}}, Plant)


def host() -> SparkplugHost:
    return SparkplugHost(
        Sparkplug(groups=["P1"]),
        PLANT.state_table(),
        rebirth_interval=timedelta(seconds=5),
        birth_timeout=timedelta(seconds=30),
    )


def ms(seconds: float) -> int:
    return int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def metric(name: str | None, value: object, dtype: spb.DataType, alias: int | None = None) -> spb.Metric:
    return spb.Metric(timestamp=None, name=name, datatype=dtype, value=value, alias=alias)  # type: ignore[arg-type]


def nbirth(seq: int = 0, bd_seq: int = 1) -> bytes:
    metrics = [
        metric("bdSeq", bd_seq, spb.DataType.INT64),
        metric("Node Control/Rebirth", False, spb.DataType.BOOLEAN),
    ]
    return spb.NBirth(timestamp=ms(0), seq=seq, metrics=metrics).encode()


def dbirth(seq: int, state: int = 1, good: int = 100) -> bytes:
    metrics = [
        metric("State", state, spb.DataType.INT32, alias=1),
        metric("Alarm", "", spb.DataType.STRING, alias=2),
        metric("Counts/Good", good, spb.DataType.UINT64, alias=3),
        metric("Counts/Scrap", 0, spb.DataType.UINT64, alias=4),
        metric("Temperature", 41.5, spb.DataType.DOUBLE, alias=5),
    ]
    return spb.DBirth(timestamp=ms(0), seq=seq, metrics=metrics).encode()


def ddata(seq: int, seconds: float, **by_alias: object) -> bytes:
    types = {1: spb.DataType.INT32, 2: spb.DataType.STRING, 3: spb.DataType.UINT64}
    metrics = [metric(None, value, types[int(a)], alias=int(a)) for a, value in by_alias.items()]
    return spb.DData(timestamp=ms(seconds), seq=seq, metrics=metrics).encode()


def born(h: SparkplugHost) -> None:
    h.handle("spBv1.0/P1/NBIRTH/edge-1", nbirth(), at(0))
    h.handle("spBv1.0/P1/DBIRTH/edge-1/CNC-7", dbirth(1), at(0))


def test_a_birth_carries_every_current_value_and_data_is_read_through_its_aliases() -> None:
    h = host()
    assert h.handle("spBv1.0/P1/NBIRTH/edge-1", nbirth(), at(0)).readings == []  # the node is no machine
    birth = h.handle("spBv1.0/P1/DBIRTH/edge-1/CNC-7", dbirth(1), at(0))
    assert birth.readings == [
        Reading(DEVICE, at(0), state=EquipmentState.RUNNING, alarm="", good=100, scrap=0)
    ]
    data = h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(2, 5, **{"1": 3, "2": "E-204"}), at(5))
    assert data.readings == [Reading(DEVICE, at(5), state=EquipmentState.DOWN, alarm="E-204")]
    assert (data.troubles, data.rebirth) == ([], None)


def test_a_replayed_sequence_number_is_not_applied_and_a_gap_asks_for_a_rebirth() -> None:
    h = host()
    born(h)
    h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(2, 1, **{"3": 101}), at(1))
    replay = h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(2, 1, **{"3": 101}), at(1.1))
    assert replay.readings == []
    assert [t.problem for t in replay.troubles] == [Problem.OUT_OF_ORDER]
    gap = h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(5, 2, **{"3": 104}), at(2))
    assert [(t.device, t.problem) for t in gap.troubles] == [(DEVICE, Problem.SEQUENCE_GAP)]
    assert gap.readings == [Reading(DEVICE, at(2), good=104)]  # levels after a gap are still true
    assert gap.rebirth == "spBv1.0/P1/NCMD/edge-1"
    # At most one request per interval, however many gaps follow.
    again = h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(9, 3, **{"3": 108}), at(3))
    assert again.rebirth is None
    assert h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(14, 9, **{"3": 110}), at(9)).rebirth is not None


def test_the_sequence_wraps_after_255() -> None:
    h = host()
    h.handle("spBv1.0/P1/NBIRTH/edge-1", nbirth(seq=254), at(0))
    h.handle("spBv1.0/P1/DBIRTH/edge-1/CNC-7", dbirth(255), at(0))
    wrapped = h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(0, 1, **{"3": 101}), at(1))
    assert (wrapped.troubles, wrapped.readings) == ([], [Reading(DEVICE, at(1), good=101)])


def test_data_without_a_birth_asks_for_one() -> None:
    h = host()
    out = h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(7, 1, **{"3": 1}), at(1))
    assert [t.problem for t in out.troubles] == [Problem.NO_BIRTH]
    assert (out.readings, out.rebirth) == ([], "spBv1.0/P1/NCMD/edge-1")
    rebirth = spb.NCmd.decode(h.rebirth_payload(at(1)))
    assert [(m.name, m.value) for m in rebirth.metrics] == [("Node Control/Rebirth", True)]


def test_a_death_with_the_sessions_bdseq_disconnects_the_node_and_its_devices_a_stale_one_is_ignored() -> (
    None
):
    h = host()
    born(h)
    stale = spb.NDeath(timestamp=None, bd_seq_metric=metric("bdSeq", 0, spb.DataType.INT64)).encode()
    assert h.handle("spBv1.0/P1/NDEATH/edge-1", stale, at(3)).readings == []
    death = spb.NDeath(timestamp=None, bd_seq_metric=metric("bdSeq", 1, spb.DataType.INT64)).encode()
    out = h.handle("spBv1.0/P1/NDEATH/edge-1", death, at(4))
    # The node itself carries no machine signals: only its device is a machine.
    assert out.readings == [Reading(DEVICE, at(4), state=EquipmentState.DISCONNECTED)]
    assert h.handle("spBv1.0/P1/NDEATH/edge-1", death, at(5)).readings == []  # once


def test_malformed_payloads_and_unknown_values_are_counted_with_the_device() -> None:
    h = host()
    born(h)
    garbage = h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", b"\x08\xff\xff garbage", at(1))
    assert [(t.device, t.problem) for t in garbage.troubles] == [(DEVICE, Problem.MALFORMED)]
    assert garbage.rebirth == "spBv1.0/P1/NCMD/edge-1"
    odd = h.handle("spBv1.0/P1/DDATA/edge-1/CNC-7", ddata(2, 2, **{"1": 42}), at(2))
    assert [t.detail for t in odd.troubles] == ["unknown state value 42"]
    assert odd.readings == [Reading(DEVICE, at(2))]
    assert h.handle("plant/elsewhere", b"{}", at(2)).troubles == []


def test_after_our_reconnect_every_known_node_is_asked_and_a_silent_one_is_disconnected() -> None:
    h = host()
    born(h)
    assert h.connected(at(10)) == ["spBv1.0/P1/NCMD/edge-1"]
    assert h.expired(at(39)) == []
    assert h.expired(at(40)) == [Reading(DEVICE, at(40), state=EquipmentState.DISCONNECTED)]
    answered = host()
    born(answered)
    answered.connected(at(10))
    answered.handle("spBv1.0/P1/NBIRTH/edge-1", nbirth(bd_seq=2), at(11))
    assert answered.expired(at(60)) == []


def test_a_device_id_no_registry_takes_is_an_unknown_device_under_a_name_the_database_takes() -> None:
    """A topic segment may be thousands of characters long: stored as the device's name it would
    fail every batch commit (the column holds 255)."""
    sparkplug = host()
    sparkplug.handle("spBv1.0/P1/NBIRTH/edge-1", nbirth(), at(0))
    long_device = "spBv1.0/P1/DBIRTH/edge-1/" + "L" * 3000
    out = sparkplug.handle(long_device, dbirth(1), at(1))
    assert out.readings == []
    [trouble] = out.troubles
    assert trouble.problem == Problem.UNKNOWN_DEVICE
    assert trouble.device.startswith("spBv1.0/P1/edge-1/LLL")
    assert len(trouble.device) <= 128
