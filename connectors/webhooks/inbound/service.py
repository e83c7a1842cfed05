"""Receiving a webhook: verify it (Standard Webhooks, with the reference library), recognise a
repeat by its `webhook-id`, map it to a command and apply it once.

Nothing is changed unless the signature verifies with one of the source's secrets and the
timestamp is within the tolerance. A `webhook-id` already applied is never applied again:
- the same request again (same id, timestamp and body: a replay) is refused, 409;
- the sender trying again (same id and body, a new timestamp, as the spec retries) gets the
  first answer with `Idempotent-Replayed: true`, so it stops retrying;
- the same id with another body is refused, 422.
Only an applied webhook is recorded: a refused one (a body nested too deep, a payload that does
not map, QMS refusing the command) changes nothing, so the sender's corrected retry with the same
`webhook-id` is taken, and the same refused request again is refused again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from standardwebhooks import WebhookVerificationError

from connectors.webhooks.inbound.commands import COMMANDS, Qms, invalid
from connectors.webhooks.inbound.mapping import apply_mapping, event_type
from connectors.webhooks.inbound.sources import Configured
from connectors.webhooks.store import InboundRow, inbound
from contracts.kit.db import Database
from contracts.kit.paging import as_utc, utcnow
from contracts.kit.problems import NotFound, Problem
from contracts.kit.strict_body import UnsupportedMediaType, is_json_media_type, refuse_deeper_than
from contracts.models import webhooks as m

MAX_ID = 255


def _refused(status: int, slug: str, title: str, detail: str) -> Problem:
    return Problem(detail, status=status, slug=slug, title=title)


@dataclass
class Inbound:
    sources: dict[str, Configured]
    db: Database
    qms: Qms | None
    tolerance_seconds: int
    json_max_depth: int  # the service's <SERVICE>_JSON_MAX_DEPTH, as for every JSON body

    async def receive(
        self, name: str, headers: Mapping[str, str], body: bytes, content_type: str
    ) -> tuple[m.InboundAccepted, bool]:
        """The answer, and whether it repeats an earlier one; raises Problem for every refusal."""
        source = self.sources.get(name)
        if source is None:
            raise NotFound(f"no inbound webhook source {name!r} is configured", slug="webhook-source-unknown")
        webhook_id, stamp = self._verified(source, headers, body)
        digest = hashlib.sha256(body).hexdigest()
        earlier = await self._earlier(name, webhook_id)
        if earlier is not None:
            return self._repeat(earlier, stamp, digest), True
        # This route reads its body raw (the signature is over the exact bytes), so the kernel's
        # check of JSON bodies does not run: its media type and depth checks do here, the depth
        # without recursion, before the decoder (or anything walking the payload) could exhaust
        # the stack.
        if not is_json_media_type(content_type):
            raise UnsupportedMediaType(
                f"Send the webhook as application/json, not {content_type[:100] or 'without a Content-Type'}."
            )
        refuse_deeper_than(body, self.json_max_depth)
        try:
            payload = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise invalid(f"the body is not JSON: {exc}") from exc
        kind = event_type(payload, source.type_pointer)
        mapping = source.by_type.get(kind or "")
        if mapping is None:
            raise _refused(
                422,
                "webhook-type-not-mapped",
                "Webhook type not mapped",
                f"source {name} has no mapping for type {kind!r} "
                f"(mapped: {', '.join(source.by_type) or 'none'})",
            )
        if self.qms is None:
            raise _refused(503, "upstream-unavailable", "Upstream unavailable", "QMS is not configured")
        command = COMMANDS[mapping.command]
        key = "webhook-" + hashlib.sha256(f"{name}\n{webhook_id}".encode()).hexdigest()[:40]
        result = await command.apply(self.qms, apply_mapping(mapping, payload), source.supplier_id, key)
        row = {
            "source": name,
            "webhook_id": webhook_id,
            "webhook_timestamp": stamp,
            "body_sha256": digest,
            "command": command.name,
            "result": result,
            "received_at": utcnow(),
        }
        try:
            async with self.db.engine.begin() as conn:
                await conn.execute(inbound.insert(), row)
        except IntegrityError:
            # The same webhook applied concurrently: the command's key made it one change.
            again = await self._earlier(name, webhook_id)
            if again is None:
                raise
            return self._repeat(again, stamp, digest), True
        return _accepted(row), False

    def _verified(self, source: Configured, headers: Mapping[str, str], body: bytes) -> tuple[str, int]:
        webhook_id = headers.get("webhook-id", "")
        raw_stamp = headers.get("webhook-timestamp", "")
        signature = headers.get("webhook-signature", "")
        if not webhook_id or not raw_stamp or not signature:
            raise _refused(
                400,
                "webhook-headers-missing",
                "Webhook headers missing",
                "Standard Webhooks need webhook-id, webhook-timestamp and webhook-signature.",
            )
        if len(webhook_id) > MAX_ID or not webhook_id.isprintable():
            raise _refused(
                400, "webhook-headers-invalid", "Webhook headers invalid", "webhook-id is not a usable id"
            )
        # ASCII digits: str.isdigit() also takes "²", which int() refuses.
        if not (raw_stamp.isascii() and raw_stamp.isdigit()) or len(raw_stamp) > 12:
            raise _refused(
                400,
                "webhook-headers-invalid",
                "Webhook headers invalid",
                "webhook-timestamp is not unix seconds",
            )
        stamp = int(raw_stamp)
        skew = stamp - time.time()
        if abs(skew) > self.tolerance_seconds:
            raise _refused(
                401,
                "webhook-timestamp-out-of-tolerance",
                "Webhook timestamp out of tolerance",
                f"webhook-timestamp is {abs(skew):.0f} s in the {'future' if skew > 0 else 'past'}; "
                f"at most {self.tolerance_seconds} s are accepted (a replay, or a clock to fix)",
            )
        signed = {"webhook-id": webhook_id, "webhook-timestamp": raw_stamp, "webhook-signature": signature}
        for verifier in source.verifiers:
            try:
                verifier.verify(body, signed, json_parse=False)
            except WebhookVerificationError:
                continue
            return webhook_id, stamp
        raise _refused(
            401,
            "webhook-signature-invalid",
            "Webhook signature invalid",
            f"no signature in webhook-signature verifies with a secret of source {source.name}",
        )

    async def _earlier(self, name: str, webhook_id: str) -> InboundRow | None:
        async with self.db.sessions() as session:
            row: InboundRow | None = await session.scalar(
                select(InboundRow).where(InboundRow.source == name, InboundRow.webhook_id == webhook_id)
            )
            return row

    @staticmethod
    def _repeat(earlier: InboundRow, stamp: int, digest: str) -> m.InboundAccepted:
        if earlier.body_sha256 != digest:
            raise _refused(
                422,
                "webhook-id-reused",
                "Webhook id reused",
                f"webhook-id {earlier.webhook_id} was received before with another body; nothing changed",
            )
        if earlier.webhook_timestamp == stamp:
            raise _refused(
                409,
                "webhook-replayed",
                "Webhook replayed",
                f"this exact webhook ({earlier.webhook_id}) was applied at "
                f"{as_utc(earlier.received_at).isoformat()}; a replay changes nothing",
            )
        return _accepted(
            {
                "source": earlier.source,
                "webhook_id": earlier.webhook_id,
                "command": earlier.command,
                "result": earlier.result,
                "received_at": earlier.received_at,
            }
        )


def _accepted(row: dict[str, Any]) -> m.InboundAccepted:
    return m.InboundAccepted(
        source=row["source"],
        webhook_id=row["webhook_id"],
        command=row["command"],
        result=dict(row["result"]),
        received_at=as_utc(row["received_at"]),
    )
