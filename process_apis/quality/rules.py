"""Plant rules: what differs between plants is configuration (a TOML file), not code."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from contracts.models import qms


class ApprovalRule(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Usage decisions that a second person must approve before the stock moves."""

    dispositions: list[qms.Disposition]
    origins: list[qms.InspectionOrigin] = msgspec.field(default_factory=list)  # empty: any origin
    items: list[str] = msgspec.field(default_factory=list)  # empty: any item
    escalate_after_minutes: Annotated[float, msgspec.Meta(ge=0)] = 240.0  # 0: never escalated
    escalate_to: str | None = None  # who is told when nobody approves in time (a role, a group)

    def covers(self, origin: str, disposition: str, item_id: str) -> bool:
        return (
            disposition in self.dispositions
            and (not self.origins or origin in self.origins)
            and (not self.items or item_id in self.items)
        )


class Rule(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A table of the rules file; a typo in it is refused at start rather than silently ignored."""


class IdentityRules(Rule, frozen=True, kw_only=True):
    # An id the registry does not know is taken as the same id in the other system (plants whose
    # systems share numbers); false: every id must be mapped, and an unmapped one stalls the flow.
    same_when_unmapped: bool = True


class ShopFloorRules(Rule, frozen=True, kw_only=True):
    rework_work_centre: str = "REWORK"  # the one operation of a rework order runs here
    # Where a rework order is planned when no batch of the lot names a site (purchased material).
    default_site: str = ""
    # Per MES site, the ERP location consumption is issued from first (then any other).
    issue_locations: dict[str, str] = msgspec.field(default_factory=dict)


class DefectThreshold(Rule, frozen=True, kw_only=True):
    """Quality leadership hears when this many nonconformances on one item (or supplier, or
    machine) are opened within the window; once per window, not once per nonconformance."""

    count: int = 3
    window_hours: float = 24.0
    per: Literal["item", "supplier", "equipment"] = "item"


class NotificationRules(Rule, frozen=True, kw_only=True):
    # The plant a record belongs to when nothing names one (MES names the site of its orders).
    plant: str = "PLANT"
    # recipients[plant][role] = addresses; roles: "procurement", "quality_leadership".
    recipients: dict[str, dict[str, list[str]]] = msgspec.field(default_factory=dict)
    defect_thresholds: list[DefectThreshold] = msgspec.field(default_factory=list)

    def recipients_of(self, plant: str, role: str) -> list[str]:
        return list(self.recipients.get(plant, {}).get(role, []))


class QualityRules(Rule, frozen=True, kw_only=True):
    """A typo in the rules file is refused at start rather than silently ignored."""

    # Which receipts get an inspection lot: ERP's per-item flag, plus plant overrides.
    follow_item_flag: bool = True
    always_inspect: list[str] = msgspec.field(default_factory=list)
    never_inspect: list[str] = msgspec.field(default_factory=list)
    sample_size: int = 5
    finished_goods_location: str = "FG"  # where finished lots are received when MES names none
    inspection_due_days: int = 3
    # The inspection plan per item; items without one get the default plan.
    default_plan: list[qms.CharacteristicCreate] = msgspec.field(
        default_factory=lambda: [
            qms.CharacteristicCreate(
                code="VISUAL", kind=qms.CharacteristicKind.ATTRIBUTE, description="Visual inspection"
            )
        ]
    )
    plans: dict[str, list[qms.CharacteristicCreate]] = msgspec.field(default_factory=dict)
    # When a decision opens a nonconformance, and when (for purchased material) a supplier case.
    nonconformance_dispositions: list[qms.Disposition] = msgspec.field(
        default_factory=lambda: [
            qms.Disposition.BLOCK,
            qms.Disposition.SCRAP,
            qms.Disposition.RETURN,
            qms.Disposition.REWORK,
        ]
    )
    supplier_case_dispositions: list[qms.Disposition] = msgspec.field(
        default_factory=lambda: [qms.Disposition.BLOCK, qms.Disposition.RETURN]
    )
    supplier_case_due_days: int = 14
    # Issue the supplier case to the supplier at once (it sees it in the portal); otherwise quality
    # reviews it and issues it by hand.
    issue_supplier_cases: bool = False
    nonconformance_severity: qms.Severity = qms.Severity.MAJOR
    identities: IdentityRules = msgspec.field(default_factory=IdentityRules)
    shop_floor: ShopFloorRules = msgspec.field(default_factory=ShopFloorRules)
    notifications: NotificationRules = msgspec.field(default_factory=NotificationRules)
    # Which usage decisions wait for a second person's approval (the first rule that covers one).
    approvals: list[ApprovalRule] = msgspec.field(default_factory=list)

    def inspects(self, item_id: str, item_flag: bool) -> bool:
        if item_id in self.never_inspect:
            return False
        return item_id in self.always_inspect or (self.follow_item_flag and item_flag)

    def plan_for(self, item_id: str) -> list[qms.CharacteristicCreate]:
        return self.plans.get(item_id, self.default_plan)

    def approval_for(self, origin: str, disposition: str, item_id: str) -> ApprovalRule | None:
        return next((rule for rule in self.approvals if rule.covers(origin, disposition, item_id)), None)


def load_rules(path: str) -> QualityRules:
    if not path:
        return QualityRules()
    return msgspec.convert(tomllib.loads(Path(path).read_text()), QualityRules)
