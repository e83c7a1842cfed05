"""Plant rules for the maintenance flows are configuration: loaded from TOML, checked at start."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from contracts.models import cmms, qms
from process_apis.maintenance.rules import MaintenanceRules, NonconformanceRules, load_rules, worst

EXAMPLE = Path(__file__).resolve().parents[2] / "process_apis" / "maintenance" / "rules.example.toml"
S, P = qms.Severity, cmms.Priority


def test_the_example_rules_load_and_say_what_they_mean() -> None:
    rules = load_rules(str(EXAMPLE))
    assert rules.nonconformance.threshold_count == 3
    assert rules.completion.default_cost_centre == "CC-MAINT"
    assert rules.breakdown.priorities[cmms.Criticality.A] == P.EMERGENCY
    assert rules.spares.quantity("SP-BEARING-6204", reorder_point=4, on_hand=1) == 10
    assert rules.spares.quantity("SP-OTHER", reorder_point=5, on_hand=3) == 7  # up to 2 x 5


def test_no_file_means_the_defaults() -> None:
    assert load_rules("") == MaintenanceRules()


def test_repeated_minor_nonconformances_are_raised_above_their_own_priority() -> None:
    rules = NonconformanceRules()
    assert rules.priority(S.MINOR, count=1) == P.MEDIUM
    assert rules.priority(S.MINOR, count=3) == P.HIGH
    assert rules.priority(S.CRITICAL, count=3) == P.EMERGENCY  # never lowered by the threshold


def test_a_supplier_case_by_severity_or_by_count() -> None:
    by_severity = NonconformanceRules(supplier_case_min_severity=S.MAJOR)
    assert by_severity.opens_supplier_case(S.CRITICAL, 1)
    assert not by_severity.opens_supplier_case(S.MINOR, 10)
    by_count = NonconformanceRules(supplier_case_min_ncs=3)
    assert by_count.opens_supplier_case(S.MINOR, 3)
    assert not by_count.opens_supplier_case(S.MINOR, 2)


def test_the_worst_severity_counts() -> None:
    assert worst([S.MINOR, S.CRITICAL, S.MAJOR]) == S.CRITICAL


def test_a_misspelt_rule_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text("[nonconformance]\nthreshold_cont = 3\n")
    with pytest.raises(msgspec.ValidationError):
        load_rules(str(bad))
