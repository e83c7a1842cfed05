"""`<SERVICE>_EVENT_RETENTION_DAYS`: one setting for how long published events stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from contracts.kit.app import Runtime
from contracts.kit.db import Database
from contracts.kit.observability import Metrics
from contracts.kit.settings import ServiceSettings, SettingsError, load_settings


def settings(**env: str) -> ServiceSettings:
    return load_settings(ServiceSettings, "SVC", {"SVC_DATABASE_URL": "sqlite+aiosqlite:///svc.db", **env})


async def test_the_relay_and_the_consumers_keep_events_as_long_as_the_setting_says(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/svc.db")
    redis = Redis.from_url("redis://127.0.0.1:1/0")  # never connected to
    runtime = Runtime(settings(SVC_EVENT_RETENTION_DAYS="2.5"), db, redis, Metrics("svc"))
    assert runtime.relay().retention == timedelta(days=2, hours=12)
    assert runtime.consumer("quality").inbox_retention == timedelta(days=2, hours=12)
    assert settings().event_retention == timedelta(days=7)
    await redis.aclose()
    await db.dispose()


@pytest.mark.parametrize("value", ["0", "-1", "a week"])
def test_a_retention_that_is_not_a_positive_number_of_days_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="event_retention_days"):
        settings(SVC_EVENT_RETENTION_DAYS=value)
