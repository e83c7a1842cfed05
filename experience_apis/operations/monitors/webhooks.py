"""Partner webhook endpoints: disabled ones (nothing reaches the partner any more) and failing ones
(every attempt failing since a while; disabled if it goes on)."""

from __future__ import annotations

from datetime import datetime

from contracts.models.operations import Offender
from contracts.models.webhooks import Subscription
from experience_apis.operations.monitors.base import FAILURES, Found, Monitor
from experience_apis.operations.upstreams import Upstreams

API = "/webhooks/v1"


def _offender(sub: Subscription, summary: str, since: datetime | None) -> Offender:
    return Offender(
        record_type="webhook_subscription",
        record_id=sub.subscription_id,
        summary=summary[:500],
        since=since,
        links={
            "subscription": f"{API}/subscriptions/{sub.subscription_id}",
            "failed_messages": f"{API}/messages?subscription_id={sub.subscription_id}&status=failed",
            "enable": f"{API}/subscriptions/{sub.subscription_id}/enable",
            "replay": f"{API}/subscriptions/{sub.subscription_id}/replay",
            "console": f"/operations/console/webhooks/{sub.subscription_id}",
        },
        details={
            "client_id": sub.client_id,
            "supplier_id": sub.supplier_id,
            "url": sub.url,
            "status": sub.status.value,
            "failing_since": sub.failing_since.isoformat() if sub.failing_since else None,
        },
    )


async def disabled_endpoints(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        disabled = await up.webhooks.list_subscriptions(status="disabled")
    except FAILURES as exc:
        found.warn("webhooks", exc, "disabled endpoints unknown")
        return found
    for sub in disabled:
        found.items.append(
            _offender(
                sub, f"{sub.client_id}'s endpoint {sub.url} disabled: {sub.disabled_reason}", sub.disabled_at
            )
        )
    return found


async def failing_endpoints(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        active = await up.webhooks.list_subscriptions(status="active")
    except FAILURES as exc:
        found.warn("webhooks", exc, "failing endpoints unknown")
        return found
    for sub in active:
        if sub.failing_since is not None:
            found.items.append(
                _offender(
                    sub, f"{sub.client_id}'s endpoint {sub.url} failing, no success since", sub.failing_since
                )
            )
    return found


MONITORS = (
    Monitor(
        "webhook-endpoints-disabled",
        "Partner webhook endpoints disabled",
        "Endpoints that answered 410 or failed for too long (WEBHOOKS_DISABLE_AFTER_HOURS): nothing is sent "
        "to them. Enable once the partner is back, then replay the window it missed.",
        disabled_endpoints,
    ),
    Monitor(
        "webhook-endpoints-failing",
        "Partner webhook endpoints failing",
        "Endpoints whose every attempt has failed since the time shown; retries go on by the schedule.",
        failing_endpoints,
    ),
)
