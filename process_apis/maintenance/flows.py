"""The maintenance flows, as ordered steps over the system APIs (one module per flow).

Every write carries the step's idempotency key, so a retry after a crash, a timeout or an
upstream restart is answered from the upstream's record instead of posting twice.
"""

from __future__ import annotations

from process_apis.maintenance.breakdown import BREAKDOWN
from process_apis.maintenance.completion import WORK_ORDER_COMPLETION
from process_apis.maintenance.nonconformance import NC_MAINTENANCE
from process_apis.maintenance.spares import SPARES_REPLENISHMENT

FLOW_TYPES = (NC_MAINTENANCE, WORK_ORDER_COMPLETION, BREAKDOWN, SPARES_REPLENISHMENT)

__all__ = ["BREAKDOWN", "FLOW_TYPES", "NC_MAINTENANCE", "SPARES_REPLENISHMENT", "WORK_ORDER_COMPLETION"]
