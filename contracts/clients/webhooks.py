"""Typed client of the webhooks API v1 (the operations service's view of partner deliveries)."""

from __future__ import annotations

from typing import Any

from contracts.clients.base import ApiClient, segment
from contracts.models import webhooks as m

API = "/webhooks/v1"


class WebhooksClient(ApiClient):
    service = "webhooks"

    async def list_subscriptions(self, **filters: Any) -> list[m.Subscription]:
        """Every subscription matching (status, client_id), all pages."""
        return await self.get_all(f"{API}/subscriptions", m.Subscription, {"limit": 200, **filters})

    async def get_subscription(self, subscription_id: str) -> m.Subscription:
        return await self.get(f"{API}/subscriptions/{segment(subscription_id)}", m.Subscription)

    async def list_messages(self, **filters: Any) -> m.MessagePage:
        """One page of messages (subscription_id, status, event_id, limit, cursor)."""
        params = {k: v for k, v in filters.items() if v is not None}
        return await self.get(f"{API}/messages", m.MessagePage, params)

    async def get_message(self, message_id: str) -> m.MessageDetail:
        return await self.get(f"{API}/messages/{segment(message_id)}", m.MessageDetail)

    async def retry(self, message_id: str, *, idempotency_key: str) -> m.Message:
        return await self.post(
            f"{API}/messages/{segment(message_id)}/retry", None, m.Message, idempotency_key=idempotency_key
        )

    async def replay(self, subscription_id: str, replay: m.Replay, *, idempotency_key: str) -> m.Replayed:
        return await self.post(
            f"{API}/subscriptions/{segment(subscription_id)}/replay",
            replay,
            m.Replayed,
            idempotency_key=idempotency_key,
        )

    async def enable(self, subscription_id: str, *, idempotency_key: str) -> m.Subscription:
        return await self.post(
            f"{API}/subscriptions/{segment(subscription_id)}/enable",
            None,
            m.Subscription,
            idempotency_key=idempotency_key,
        )
