"""v1 wire shapes to v2 ones: v2 is a view over the same records, so it is derived from v1's
view of them and can never disagree with it."""

from __future__ import annotations

from contracts.kit.repository import to_wire
from contracts.models import qms as v1
from contracts.models import qms_v2 as v2


def measurement(result: v1.CharacteristicResult) -> v2.Measurement | None:
    if result.value is None or result.unit is None:
        return None
    uncertainty = interval = None
    if result.uncertainty is not None:
        uncertainty = v2.MeasurementUncertainty(value=result.uncertainty, unit=result.unit)
        interval = v2.Interval(
            low=result.value - result.uncertainty, high=result.value + result.uncertainty, unit=result.unit
        )
    return v2.Measurement(value=result.value, unit=result.unit, uncertainty=uncertainty, interval=interval)


def specification(characteristic: v1.Characteristic) -> v2.Specification | None:
    unit = characteristic.unit
    if unit is None or (characteristic.min_value is None and characteristic.max_value is None):
        return None
    low, high = characteristic.min_value, characteristic.max_value
    return v2.Specification(
        lower_limit=v2.Quantity(value=low, unit=unit) if low is not None else None,
        upper_limit=v2.Quantity(value=high, unit=unit) if high is not None else None,
    )


def result(entry: v1.CharacteristicResult) -> v2.CharacteristicResult:
    return v2.CharacteristicResult(
        measurement=measurement(entry),
        conforming=entry.conforming,
        evaluation=entry.evaluation,
        note=entry.note,
        recorded_by=entry.recorded_by,
        recorded_at=entry.recorded_at,
    )


def inspection_lot(lot: v1.InspectionLot) -> v2.InspectionLot:
    characteristics = [
        to_wire(
            c,
            v2.Characteristic,
            specification=specification(c),
            result=result(c.result) if c.result else None,
        )
        for c in lot.characteristics
    ]
    return to_wire(lot, v2.InspectionLot, characteristics=characteristics)


def results_record(data: v2.ResultsRecord) -> v1.ResultsRecord:
    """A v2 results request as the use case takes it (v1's flat entry)."""
    return v1.ResultsRecord(
        results=[
            v1.ResultEntry(
                characteristic=e.characteristic,
                value=e.measurement.value if e.measurement else None,
                unit=e.measurement.unit if e.measurement else None,
                uncertainty=e.measurement.uncertainty if e.measurement else None,
                conforming=e.conforming,
                note=e.note,
            )
            for e in data.results
        ],
        recorded_by=data.recorded_by,
    )
