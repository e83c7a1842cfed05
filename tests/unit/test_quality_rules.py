"""Plant rules for the quality flows are configuration: loaded from TOML, checked at start."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from process_apis.quality.rules import QualityRules, load_rules

EXAMPLE = Path(__file__).resolve().parents[2] / "process_apis" / "quality" / "rules.example.toml"


def test_the_example_rules_load_and_say_what_they_mean() -> None:
    rules = load_rules(str(EXAMPLE))
    assert [c.code for c in rules.plan_for("RM-STEEL-42")] == ["DIAMETER", "SURFACE"]
    assert rules.plan_for("anything-else") == QualityRules().default_plan
    assert rules.inspects("RM-BOLT-M8", item_flag=False)
    assert rules.inspects("RM-X", item_flag=True)
    assert not rules.inspects("RM-X", item_flag=False)


def test_never_inspect_wins_over_the_item_flag() -> None:
    rules = QualityRules(never_inspect=["RM-X"], always_inspect=["RM-X"])
    assert not rules.inspects("RM-X", item_flag=True)


def test_a_misspelt_rule_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('suplier_case_dispositions = ["block"]\n')
    with pytest.raises(msgspec.ValidationError, match="suplier_case_dispositions"):
        load_rules(str(bad))


def test_no_file_means_the_built_in_defaults() -> None:
    assert load_rules("") == QualityRules()
