"""What a work order's technical completion needs: one rule for CMMS, which applies it, and for a
caller that records the order's lines before completing it.

The technician API records parts and labor, each a CMMS call and transaction of its own, and then
completes the order. A completion CMMS refuses after the lines went in leaves them recorded, and
the corrected resend records them again; so that caller checks the order it read against this same
rule before its first write. CMMS stays the judge: it checks the order again as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contracts.kit.paging import as_utc, body_instant
from contracts.kit.problems import Unprocessable
from contracts.models.cmms import MaintenanceType, WorkOrderComplete


class Order(Protocol):
    """What the completion reads of a work order: CMMS's row, or the order as CMMS answers it."""

    @property
    def type(self) -> str: ...
    @property
    def cause_code(self) -> str | None: ...
    @property
    def correction_code(self) -> str | None: ...
    @property
    def downtime_minutes(self) -> int | None: ...
    @property
    def failure_time(self) -> datetime | None: ...
    @property
    def actual_start(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Completed:
    """What a completion leaves on the order: the body's value where it gives one, else the order's."""

    cause_code: str | None
    correction_code: str | None
    downtime_minutes: int | None
    failure_time: datetime | None
    actual_end: datetime | None  # None: not given, and left to CMMS's clock (see `completed`)


def completed(order: Order, data: WorkOrderComplete, now: datetime | None = None) -> Completed:
    """The order as `data` completes it, or the 422 refusing the completion. `now` is when CMMS
    records it, the end of the work unless `data` says otherwise; a caller checking ahead passes
    None, since the end CMMS will stamp is on CMMS's clock, the one that stamped the start."""
    failure_time = body_instant(data.failure_time, "failure_time") or order.failure_time
    cause_code = data.cause_code if data.cause_code is not None else order.cause_code
    correction_code = data.correction_code if data.correction_code is not None else order.correction_code
    check_codes(MaintenanceType(order.type), cause_code, correction_code)
    actual_end = body_instant(data.actual_end, "actual_end") or now
    started = order.actual_start
    if started is not None and actual_end is not None and as_utc(actual_end) < as_utc(started):
        raise Unprocessable("actual_end is before the work started", slug="invalid-date-time")
    downtime = data.downtime_minutes if data.downtime_minutes is not None else order.downtime_minutes
    return Completed(cause_code, correction_code, downtime, failure_time, actual_end)


def check_codes(type_: MaintenanceType, cause_code: str | None, correction_code: str | None) -> None:
    """A repair is only reportable with what failed and what was done about it."""
    if type_ == MaintenanceType.CORRECTIVE and not (cause_code and correction_code):
        missing = [
            name
            for name, code in (("cause_code", cause_code), ("correction_code", correction_code))
            if not code
        ]
        raise Unprocessable(
            f"a corrective work order needs {' and '.join(missing)} to be completed",
            slug="codes-required",
            missing=missing,
        )
