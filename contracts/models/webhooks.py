"""Webhooks API v1 (`/webhooks/v1`): partner subscriptions, deliveries and their attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from contracts.kit.patterns import whole
from contracts.models.common import Input, Output, Text

EventTypeName = Annotated[
    str, msgspec.Meta(min_length=3, max_length=200, pattern=whole(r"[a-z0-9_]+(\.[a-z0-9_]+)+"))
]
EndpointUrl = Annotated[
    str, msgspec.Meta(min_length=8, max_length=2000, pattern=whole(r"https?://[^\s\x00]+"))
]


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # by its owner, an operator, a 410 answer, or after failing too long


class MessageStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # every attempt of the schedule failed, or the endpoint was disabled


class SubscriptionCreate(Input, kw_only=True):
    url: EndpointUrl
    event_types: Annotated[list[EventTypeName], msgspec.Meta(min_length=1, max_length=100)]
    description: Text | None = None


class SubscriptionUpdate(Input, kw_only=True):
    """Only the fields given change; `If-Match` takes the subscription's ETag."""

    url: EndpointUrl | None = None
    event_types: Annotated[list[EventTypeName], msgspec.Meta(min_length=1, max_length=100)] | None = None
    description: Text | None = None


class Subscription(Output, kw_only=True):
    subscription_id: str
    client_id: str  # the partner client that owns it
    supplier_id: str | None  # set for a supplier's client: only that supplier's records are sent
    url: str
    event_types: list[str]
    description: str | None
    status: SubscriptionStatus
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None  # first failed attempt since the last success
    last_success_at: datetime | None
    previous_secret_expires_at: datetime | None  # while set, deliveries carry both signatures
    version: int
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(Subscription, kw_only=True):
    """The signing secret is shown once, here and on rotation."""

    secret: str


class SecretRotated(Output, kw_only=True):
    subscription_id: str
    secret: str
    previous_secret_expires_at: datetime  # both secrets sign until then


class SubscriptionPage(Output, kw_only=True):
    items: list[Subscription]
    next_cursor: str | None = None


class EventTypeInfo(Output, kw_only=True):
    name: str
    description: str
    supplier_filtered: bool  # a supplier's subscription receives only its own records' events


class EventTypeList(Output, kw_only=True):
    """The whole catalogue at once (a few dozen types): not paged."""

    event_types: list[EventTypeInfo]


class Attempt(Output, kw_only=True):
    number: int
    attempted_at: datetime
    trigger: str  # scheduled | manual | replay
    succeeded: bool
    response_status: int | None  # None: no HTTP answer (refused, timed out, address not allowed)
    latency_ms: float
    error: str | None
    response_excerpt: str | None


class Message(Output, kw_only=True):
    """One event for one subscription; `webhook-id` is the event id."""

    message_id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime | None
    last_response_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class MessageDetail(Message, kw_only=True):
    payload: Any  # the JSON body as sent
    attempt_log: list[Attempt]


class MessagePage(Output, kw_only=True):
    items: list[Message]
    next_cursor: str | None = None


class Replay(Input, kw_only=True):
    """Send again what this subscription was due between `since` and `until`: messages that
    failed, and events it missed while disabled; with `include_delivered` also those delivered."""

    since: datetime
    until: datetime | None = None
    include_delivered: bool = False


class Replayed(Output, kw_only=True):
    subscription_id: str
    requeued: int  # existing messages queued for a new attempt
    created: int  # messages made for events the subscription had missed


class InboundAccepted(Output, kw_only=True):
    """An inbound webhook that was applied (or, repeated by its sender, applied before)."""

    source: str
    webhook_id: str
    command: str
    result: dict[str, Any]
    received_at: datetime
