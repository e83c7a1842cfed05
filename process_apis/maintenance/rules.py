"""Plant rules: what differs between plants is configuration (a TOML file), not code.

```toml
[nonconformance]
threshold_count = 3          # NCs on one machine within the window start a maintenance flow
window_minutes = 60
immediate_severities = ["critical"]
supplier_case_min_severity = "critical"

[completion]
default_cost_centre = "CC-MAINT"

[spares]
reorder_quantities = { "SP-BEARING-6204" = 10 }
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

from contracts.models import cmms, qms, xref
from contracts.models.common import Input

S, P = qms.Severity, cmms.Priority
SEVERITY_RANK = {S.MINOR: 1, S.MAJOR: 2, S.CRITICAL: 3}


class NonconformanceRules(Input, kw_only=True):
    # Whose ids QMS nonconformances carry in `equipment_id` (usually the shop floor's).
    equipment_id_space: xref.IdSpace = xref.IdSpace.MES
    # One NC of these severities is enough; others count towards the threshold.
    immediate_severities: list[qms.Severity] = msgspec.field(default_factory=lambda: [S.CRITICAL])
    threshold_count: int = 3  # 0 turns counting off
    window_minutes: int = 60
    priorities: dict[qms.Severity, cmms.Priority] = msgspec.field(
        default_factory=lambda: {S.MINOR: P.MEDIUM, S.MAJOR: P.HIGH, S.CRITICAL: P.EMERGENCY}
    )
    threshold_priority: cmms.Priority = P.HIGH
    hold_order: bool = True
    block_lots: bool = True
    # A supplier case for the raw-material lots the order consumed: at this severity, or when
    # this many NCs came together (0: never by count).
    supplier_case_min_severity: qms.Severity = S.CRITICAL
    supplier_case_min_ncs: int = 0
    supplier_case_due_days: int = 14
    issue_supplier_cases: bool = False  # issue them to the supplier at once (else quality issues them)

    def priority(self, severity: qms.Severity, count: int) -> cmms.Priority:
        by_severity = self.priorities.get(severity, P.MEDIUM)
        if count > 1 and _rank(self.threshold_priority) > _rank(by_severity):
            return self.threshold_priority
        return by_severity

    def opens_supplier_case(self, severity: qms.Severity, count: int) -> bool:
        if SEVERITY_RANK[severity] >= SEVERITY_RANK[self.supplier_case_min_severity]:
            return True
        return self.supplier_case_min_ncs > 0 and count >= self.supplier_case_min_ncs


class CompletionRules(Input, kw_only=True):
    default_cost_centre: str = "MAINTENANCE"  # when neither the work order nor its asset names one
    currency: str = "EUR"
    capa_owner: str = "maintenance"
    create_capa_when_missing: bool = True  # a corrective order on an NC without a CAPA gets one


class BreakdownRules(Input, kw_only=True):
    priorities: dict[cmms.Criticality, cmms.Priority] = msgspec.field(
        default_factory=lambda: {
            cmms.Criticality.A: P.EMERGENCY,
            cmms.Criticality.B: P.HIGH,
            cmms.Criticality.C: P.MEDIUM,
        }
    )
    report_asset_down: bool = True  # a breakdown seen on the shop floor also opens CMMS downtime
    hold_order: bool = True  # the production order running on the machine is held until the repair


class SparesRules(Input, kw_only=True):
    reorder_quantities: dict[str, float] = msgspec.field(default_factory=dict)
    # Without a plant quantity: order up to this multiple of the reorder point.
    order_up_to_factor: float = 2.0

    def quantity(self, item_id: str, reorder_point: float, on_hand: float) -> float:
        if item_id in self.reorder_quantities:
            return self.reorder_quantities[item_id]
        return max(1.0, round(reorder_point * self.order_up_to_factor - on_hand, 3))


class MaintenanceRules(Input, kw_only=True):
    nonconformance: NonconformanceRules = msgspec.field(default_factory=NonconformanceRules)
    completion: CompletionRules = msgspec.field(default_factory=CompletionRules)
    breakdown: BreakdownRules = msgspec.field(default_factory=BreakdownRules)
    spares: SparesRules = msgspec.field(default_factory=SparesRules)


def _rank(priority: cmms.Priority) -> int:
    return list(cmms.Priority).index(priority)


def worst(severities: list[qms.Severity]) -> qms.Severity:
    return max(severities, key=SEVERITY_RANK.__getitem__)


def load_rules(path: str) -> MaintenanceRules:
    if not path:
        return MaintenanceRules()
    return msgspec.convert(tomllib.loads(Path(path).read_text()), MaintenanceRules)
