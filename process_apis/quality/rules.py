"""Plant rules: what differs between plants is configuration (a TOML file), not code."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

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


class QualityRules(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
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
