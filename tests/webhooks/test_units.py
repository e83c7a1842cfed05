"""Pure logic of the webhooks service: the retry policy, Retry-After, sealed secrets, payload
mappings and the sources file (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from connectors.webhooks.delivery import Policy, _retry_after
from connectors.webhooks.inbound.commands import COMMANDS
from connectors.webhooks.inbound.mapping import apply_mapping, pointer
from connectors.webhooks.inbound.sources import Mapping, SourcesError, load_sources
from connectors.webhooks.secrets import SecretBox, new_secret
from connectors.webhooks.settings import WebhooksSettings
from contracts.kit.problems import Problem
from contracts.kit.sealing import Sealer


def test_the_default_schedule_spans_about_a_day_with_jitter() -> None:
    settings = WebhooksSettings()
    assert settings.schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert 27 * 3600 < sum(settings.schedule) < 29 * 3600
    policy = Policy(settings.schedule, 0.2, timedelta(days=5), 20)
    delays = [policy.next_delay(3) for _ in range(500)]
    assert all(d is not None and 1440 <= d <= 2160 for d in delays)  # 1800 s ± 20 %
    assert len({round(d or 0) for d in delays}) > 50  # really spread
    assert policy.next_delay(8) is None  # the schedule is spent: the message fails
    with pytest.raises(ValueError, match="RETRY_SCHEDULE"):
        _ = WebhooksSettings(retry_schedule="5,-1").schedule


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert _retry_after("120") == 120
    assert _retry_after("99999999") == 86400  # capped at a day
    later = datetime.now(UTC) + timedelta(seconds=60)
    assert 55 <= (_retry_after(format_datetime(later, usegmt=True)) or 0) <= 61
    assert _retry_after("soon") is None
    assert _retry_after("²") is None  # a digit to str.isdigit(), not to float()
    assert _retry_after(None) is None


def test_secrets_are_sealed_to_their_subscription() -> None:
    box = SecretBox(Sealer.new_key())
    secret = new_secret()
    Webhook(secret)  # a valid Standard Webhooks secret
    stored = box.seal("WHS-1", secret)
    assert secret not in stored
    assert box.open("WHS-1", stored) == secret
    with pytest.raises(ValueError, match="does not open"):
        box.open("WHS-2", stored)  # moved to another row
    with pytest.raises(ValueError, match="WEBHOOKS_SECRET_ENCRYPTION_KEY is not set"):
        SecretBox().open("WHS-1", stored)
    assert SecretBox().seal("WHS-1", secret) == secret  # no key: plain, as documented
    with pytest.raises(ValueError, match="WEBHOOKS_SECRET_ENCRYPTION_KEY must be 32 bytes"):
        SecretBox("c2hvcnQ")


def test_json_pointers_and_value_tables() -> None:
    doc = {"data": {"a/b": 1, "m~n": 2, "list": [{"x": 3}]}}
    assert pointer(doc, "/data/a~1b") == 1
    assert pointer(doc, "/data/m~0n") == 2
    assert pointer(doc, "/data/list/0/x") == 3
    mapping = Mapping(
        when_type="t",
        command="record-inspection-results",
        fields={"inspection_lot_id": "/lot", "results": "/checks", "recorded_by": "/missing"},
        item_fields={"characteristic": "/c", "conforming": "/v"},
        values={"conforming": {"OK": True, "NOK": False}},
    )
    mapped = apply_mapping(mapping, {"lot": "IL-1", "checks": [{"c": "VIS", "v": "NOK"}]})
    assert mapped == {
        "inspection_lot_id": "IL-1",
        "results": [{"characteristic": "VIS", "conforming": False}],
    }
    with pytest.raises(Problem) as refused:
        apply_mapping(mapping, {"lot": "IL-1", "checks": [{"c": "VIS", "v": "MAYBE"}]})
    assert refused.value.status == 422
    # null is no value; a value of the wrong type is refused naming the field and its pointer.
    mapped = apply_mapping(mapping, {"lot": "IL-1", "checks": [], "missing": None})
    assert mapped == {"inspection_lot_id": "IL-1", "results": []}
    with pytest.raises(Problem) as refused:
        apply_mapping(mapping, {"lot": "IL-1", "checks": "PASS"})
    assert refused.value.detail == "results (at /checks): Expected `array`, got `str`"
    with pytest.raises(Problem) as refused:
        apply_mapping(mapping, {"lot": None, "checks": []})
    assert refused.value.detail == "the payload has no inspection_lot_id (at /lot)"


def _sources(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    return path


def _refused(path: Path, env: dict[str, str]) -> bool:
    try:
        load_sources(str(path), env=env)
    except SourcesError:
        return True
    return False


def test_a_sources_file_is_checked_whole_at_start(tmp_path: Path) -> None:
    secret = new_secret()
    good = f"""
[sources.qms-cloud]
secrets = ["env:QMS_CLOUD_SECRET", "{secret}"]
[[sources.qms-cloud.mappings]]
when_type = "inspection.completed"
command = "record-inspection-results"
fields = {{ inspection_lot_id = "/data/lot", results = "/data/checks" }}
"""
    loaded = load_sources(str(_sources(tmp_path, good)), env={"QMS_CLOUD_SECRET": new_secret()})
    assert len(loaded["qms-cloud"].verifiers) == 2
    assert set(loaded["qms-cloud"].by_type) == {"inspection.completed"}
    bad = {
        "no secret in the variable": (good, {}),
        "a typo": (good.replace("when_type", "when_typ"), {"QMS_CLOUD_SECRET": secret}),
        "a command we lack": (
            good.replace("record-inspection-results", "delete-everything"),
            {"QMS_CLOUD_SECRET": secret},
        ),
        "a required field unmapped": (
            good.replace('inspection_lot_id = "/data/lot", ', ""),
            {"QMS_CLOUD_SECRET": secret},
        ),
        "not a pointer": (good.replace('"/data/lot"', '"data.lot"'), {"QMS_CLOUD_SECRET": secret}),
        "not a whsec secret": (good.replace(secret, "hunter2"), {"QMS_CLOUD_SECRET": secret}),
        "a supplier command without a supplier": (
            good.replace("record-inspection-results", "answer-supplier-case").replace(
                'inspection_lot_id = "/data/lot", results = "/data/checks"',
                'case_id = "/a", containment = "/b", root_cause = "/c", corrective_action = "/d"',
            ),
            {"QMS_CLOUD_SECRET": secret},
        ),
    }
    for why, (text, env) in bad.items():
        assert _refused(_sources(tmp_path, text), env), why
    assert load_sources("") == {}
    assert set(COMMANDS) == {"record-inspection-results", "answer-supplier-case"}
