"""Standard Webhooks headers, signed with the specification's reference library."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

Headers = list[tuple[bytes, bytes]]
CONTENT_TYPE = (b"content-type", b"application/json")
USER_AGENT = (b"user-agent", b"Plantbridge-Webhooks/1")


def signed_headers(webhook_id: str, body: bytes, secrets: Sequence[str], now: float) -> Headers:
    """`webhook-id` (the event id, the same on every attempt), `webhook-timestamp` (this attempt)
    and `webhook-signature`: one `v1,` signature per secret, so during a rotation a receiver
    verifies with either."""
    moment = datetime.fromtimestamp(int(now), UTC)
    signatures = " ".join(Webhook(secret).sign(webhook_id, moment, body) for secret in secrets)
    return [
        CONTENT_TYPE,
        USER_AGENT,
        (b"webhook-id", webhook_id.encode()),
        (b"webhook-timestamp", str(int(now)).encode()),
        (b"webhook-signature", signatures.encode()),
    ]
