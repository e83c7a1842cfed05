"""`<SERVICE>_FLOW_LEASE_SECONDS`: how long a process API's runner holds a flow between renewals."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from contracts.kit.db import Database
from contracts.kit.flows.engine import FlowRunner
from contracts.kit.settings import FlowSettings, SettingsError, load_settings
from process_apis.maintenance.settings import MaintenanceSettings
from process_apis.quality.settings import QualitySettings

PROCESSES = [(QualitySettings, "QUALITY"), (MaintenanceSettings, "MAINTENANCE")]


@pytest.mark.parametrize(("cls", "prefix"), PROCESSES)
async def test_each_process_runs_its_flows_with_the_lease_its_setting_names(
    cls: type[FlowSettings], prefix: str, tmp_path: Path
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/flows.db")
    redis = Redis.from_url("redis://127.0.0.1:1/0")  # never connected to
    settings = load_settings(cls, prefix, {f"{prefix}_FLOW_LEASE_SECONDS": "6.5"})
    runner = FlowRunner.configured(db, redis, settings, [], None, source="/test")
    assert runner.lease == 6.5
    assert load_settings(cls, prefix, {}).flow_lease_seconds == 15.0
    await redis.aclose()
    await db.dispose()


@pytest.mark.parametrize("value", ["0", "2.9", "soon"])
def test_a_lease_too_short_to_renew_reliably_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="flow_lease_seconds"):
        load_settings(QualitySettings, "QUALITY", {"QUALITY_FLOW_LEASE_SECONDS": value})
