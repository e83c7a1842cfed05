"""Shop-floor connector settings, read from SHOPFLOOR_* environment variables."""

from __future__ import annotations

from typing import Annotated

import msgspec

from contracts.kit.settings import CallerSettings
from contracts.topology import by_name

Seconds = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]


class ShopfloorSettings(CallerSettings, frozen=True, kw_only=True):
    # Its own small database: what it accepted from machines, and what it still owes MES.
    database_url: str = "sqlite+aiosqlite:///data/shopfloor.db"
    port: int = by_name("shopfloor").port
    outbox_relay: bool = False  # publishes no events; its writes go to MES over HTTP
    mes_url: str = by_name("mes").local_url
    xref_url: str = by_name("xref").local_url
    client_id: str = by_name("shopfloor").client_id
    # Which machines speak how (TOML, see docs/shop-floor.md); nothing is subscribed without one.
    mapping_file: str = ""
    # The plant's MQTT broker (mqtt://host:port or mqtts://host:port); empty: no MQTT.
    mqtt_url: str = ""
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_client_id: str = "plantbridge-shopfloor"
    mqtt_keepalive_seconds: int = 30
    # A new state must hold this long (by the machine's clock, or ours while nothing follows it)
    # before MES hears of it: shorter flickers are dropped as chatter.
    debounce_seconds: Seconds = 0.2
    # Counted parts are confirmed in MES at most this often per machine (and before every stop).
    count_flush_seconds: Positive = 10.0
    # Sparkplug: at most one rebirth request per edge node this often; a node that does not
    # answer a rebirth request after the connector reconnected within birth_timeout is disconnected.
    rebirth_interval_seconds: Positive = 5.0
    birth_timeout_seconds: Positive = 30.0
    # How long a device → equipment answer from the cross-reference registry is reused.
    xref_cache_seconds: Positive = 60.0
    unknown_device_cache_seconds: Positive = 10.0
    # Readings are committed in batches of at most this many, gathered for at most batch_wait.
    batch_max: Annotated[int, msgspec.Meta(ge=1)] = 500
    batch_wait_seconds: Seconds = 0.01
    writer_concurrency: Annotated[int, msgspec.Meta(ge=1)] = 16
    # Sent commands and logged problems are kept this long (the API and the console show them).
    history_hours: Positive = 24.0
