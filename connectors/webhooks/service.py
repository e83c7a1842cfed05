"""Use cases of the webhooks API: a partner's subscriptions, and the deliveries an operator (or
the partner, for its own) inspects, retries and replays.

A partner client sees and changes only its own subscriptions (another's is 404, so ids cannot be
probed); `webhooks:read` sees all of them and `webhooks:operate` may retry, replay, disable and
enable any.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.webhooks import access
from connectors.webhooks.delivery import disable
from connectors.webhooks.endpoints import EndpointRefused, Guard
from connectors.webhooks.fanout import SIGNAL, message_row
from connectors.webhooks.secrets import SecretBox, new_secret
from connectors.webhooks.store import AttemptRow, EventRow, MessageRow, SubscriptionRow, events, messages
from contracts.kit import signals
from contracts.kit.auth import Principal
from contracts.kit.paging import (
    PageQuery,
    body_instant,
    check_if_match,
    utcnow,
)
from contracts.kit.problems import Conflict, NotFound, Problem
from contracts.kit.records import new_id
from contracts.kit.repository import list_page, to_wire
from contracts.models import webhooks as m

SUBSCRIBE, READ, OPERATE = "webhooks:subscribe", "webhooks:read", "webhooks:operate"


class Deps:
    """What the use cases need beyond the session (a plain class: Litestar's signature model
    would try to convert a dataclass's fields)."""

    def __init__(
        self, guard: Guard, box: SecretBox, secret_overlap: timedelta, in_flight: set[str] | None = None
    ) -> None:
        self.guard = guard
        self.box = box
        self.secret_overlap = secret_overlap
        self.in_flight = in_flight if in_flight is not None else set()  # the dispatcher's


# --- who may see what ------------------------------------------------------------------------
def _sees_all(who: Principal) -> bool:
    return who.has(READ)


def _operates(who: Principal, sub: SubscriptionRow) -> bool:
    return who.has(OPERATE) or (who.has(SUBSCRIBE) and sub.client_id == who.client_id)


def _own(who: Principal, sub: SubscriptionRow) -> bool:
    return who.has(SUBSCRIBE) and sub.client_id == who.client_id


async def _subscription(session: AsyncSession, who: Principal, subscription_id: str) -> SubscriptionRow:
    row = await session.get(SubscriptionRow, subscription_id)
    if row is None or not (_sees_all(who) or _own(who, row)):
        raise NotFound(f"no subscription {subscription_id}", slug="subscription-not-found")
    return row


def _owned(row: SubscriptionRow, who: Principal) -> None:
    """Changes to a subscription's endpoint, types and secret are its owner's alone."""
    if not _own(who, row):
        raise NotFound(f"no subscription {row.id} of client {who.client_id}", slug="subscription-not-found")


def _operable(row: SubscriptionRow, who: Principal) -> None:
    if not _operates(who, row):
        raise Problem(
            "Retrying, replaying, enabling and disabling need webhooks:operate or the subscription's owner.",
            status=403,
            slug="insufficient-scope",
            title="Insufficient scope",
        )


# --- event types -----------------------------------------------------------------------------
def event_types(who: Principal) -> m.EventTypeList:
    return m.EventTypeList(
        event_types=[
            m.EventTypeInfo(
                name=t.name,
                description=t.description,
                supplier_filtered=t.name in access.SUPPLIER_EVENTS,
            )
            for t in sorted(access.subscribable(who), key=lambda t: t.name)
        ]
    )


# --- subscriptions -----------------------------------------------------------------------------
async def _check_url(deps: Deps, url: str) -> None:
    try:
        await deps.guard.check(url)
    except EndpointRefused as exc:
        raise Problem(str(exc), status=422, slug="endpoint-refused", title="Endpoint not allowed") from exc


async def create(
    session: AsyncSession, deps: Deps, who: Principal, data: m.SubscriptionCreate
) -> m.SubscriptionCreated:
    types = access.check_subscribable(who, data.event_types)
    await _check_url(deps, data.url)
    secret = new_secret()
    subscription_id = new_id("WHS")
    row = SubscriptionRow(
        id=subscription_id,
        client_id=who.client_id,
        supplier_id=who.supplier_id,
        url=data.url,
        event_types=types,
        description=data.description,
        status=m.SubscriptionStatus.ACTIVE.value,
        secret=deps.box.seal(subscription_id, secret),
        issuer=who.issuer,
        authorized_at=_token_time(who),
    )
    session.add(row)
    await session.flush()
    signals.notify_on_commit(session, SIGNAL)
    return m.SubscriptionCreated(**msgspec.structs.asdict(view(row)), secret=secret)


async def list_subscriptions(
    session: AsyncSession, who: Principal, q: PageQuery, status: str | None, client_id: str | None
) -> m.SubscriptionPage:
    where: list[ColumnElement[bool]] = []
    if not _sees_all(who):
        where.append(SubscriptionRow.client_id == who.client_id)
    elif client_id:
        where.append(SubscriptionRow.client_id == client_id)
    found = await list_page(session, SubscriptionRow, view, q, where, status=status)
    return m.SubscriptionPage(items=found.items, next_cursor=found.next_cursor)


async def get(session: AsyncSession, who: Principal, subscription_id: str) -> m.Subscription:
    return view(await _subscription(session, who, subscription_id))


async def change(
    session: AsyncSession,
    deps: Deps,
    who: Principal,
    subscription_id: str,
    data: m.SubscriptionUpdate,
    if_match: str | None,
) -> m.Subscription:
    row = await _subscription(session, who, subscription_id)
    _owned(row, who)
    check_if_match(if_match, row.version)
    if data.event_types is not None:
        row.event_types = access.check_subscribable(who, data.event_types)
    if data.url is not None and data.url != row.url:
        await _check_url(deps, data.url)
        row.url = data.url
    if data.description is not None:
        row.description = data.description
    await session.flush()
    return view(row)


async def remove(session: AsyncSession, who: Principal, subscription_id: str, if_match: str | None) -> None:
    row = await _subscription(session, who, subscription_id)
    _owned(row, who)
    check_if_match(if_match, row.version)
    await session.delete(row)


async def rotate_secret(
    session: AsyncSession, deps: Deps, who: Principal, subscription_id: str
) -> m.SecretRotated:
    row = await _subscription(session, who, subscription_id)
    _owned(row, who)
    now = utcnow()
    secret = new_secret()
    row.previous_secret = row.secret
    row.previous_secret_expires_at = now + deps.secret_overlap
    row.secret = deps.box.seal(row.id, secret)
    await session.flush()
    return m.SecretRotated(
        subscription_id=row.id, secret=secret, previous_secret_expires_at=now + deps.secret_overlap
    )


async def set_enabled(
    session: AsyncSession, who: Principal, subscription_id: str, enabled: bool
) -> m.Subscription:
    row = await _subscription(session, who, subscription_id)
    _operable(row, who)
    now = utcnow()
    if enabled and row.status != m.SubscriptionStatus.ACTIVE:
        row.status = m.SubscriptionStatus.ACTIVE.value
        row.disabled_reason = None
        row.disabled_at = None
        row.failing_since = None
        row.throttled_until = None
        # A gateway revocation covers it again only if later than this authority (revoked.py).
        if _own(who, row):
            row.issuer, row.authorized_at = who.issuer, _token_time(who)
        else:
            row.authorized_at = now
        await session.flush()
    elif not enabled and row.status == m.SubscriptionStatus.ACTIVE:
        conn = await session.connection()
        await disable(conn, row.id, f"disabled by {who.client_id}", now)
        await session.refresh(row)
    return view(row)


# --- messages ----------------------------------------------------------------------------------
async def list_messages(
    session: AsyncSession,
    who: Principal,
    q: PageQuery,
    *,
    subscription_id: str | None,
    status: str | None,
    event_id: str | None,
    event_type: str | None,
) -> m.MessagePage:
    where: list[ColumnElement[bool]] = []
    if subscription_id:
        await _subscription(session, who, subscription_id)  # 404 unless visible
        where.append(MessageRow.subscription_id == subscription_id)
    elif not _sees_all(who):
        own = select(SubscriptionRow.id).where(SubscriptionRow.client_id == who.client_id)
        where.append(MessageRow.subscription_id.in_(own))
    found = await list_page(
        session, MessageRow, message_view, q, where, status=status, event_id=event_id, event_type=event_type
    )
    return m.MessagePage(items=found.items, next_cursor=found.next_cursor)


async def _message(
    session: AsyncSession, who: Principal, message_id: str
) -> tuple[MessageRow, SubscriptionRow]:
    row = await session.get(MessageRow, message_id)
    sub = await session.get(SubscriptionRow, row.subscription_id) if row is not None else None
    if row is None or sub is None or not (_sees_all(who) or _own(who, sub)):
        raise NotFound(f"no message {message_id}", slug="message-not-found")
    return row, sub


async def message_detail(session: AsyncSession, who: Principal, message_id: str) -> m.MessageDetail:
    row, _ = await _message(session, who, message_id)
    event = await session.get(EventRow, row.event_id)
    tries = (
        await session.scalars(
            select(AttemptRow).where(AttemptRow.message_id == row.id).order_by(AttemptRow.seq)
        )
    ).all()
    return m.MessageDetail(
        **msgspec.structs.asdict(message_view(row)),
        payload=msgspec.json.decode(event.body) if event is not None else None,
        attempt_log=[to_wire(a, m.Attempt) for a in tries],
    )


async def retry(
    session: AsyncSession, who: Principal, message_id: str, in_flight: set[str] | frozenset[str] = frozenset()
) -> m.Message:
    """One more attempt now, whatever the message's state (a delivered one is sent again)."""
    row, sub = await _message(session, who, message_id)
    _operable(sub, who)
    now = utcnow()
    if sub.status != m.SubscriptionStatus.ACTIVE:
        raise Conflict(
            f"subscription {sub.id} is disabled ({sub.disabled_reason}); enable it first",
            slug="subscription-disabled",
            current_state=sub.status,
        )
    lease = row.lease_until
    if row.id in in_flight or (lease is not None and lease > now):
        raise Conflict(f"message {row.id} is being delivered right now", slug="message-in-flight")
    row.status = m.MessageStatus.PENDING.value
    row.next_attempt_at = now
    row.trigger = "manual"
    await session.flush()
    signals.notify_on_commit(session, SIGNAL)
    return message_view(row)


async def replay(session: AsyncSession, who: Principal, subscription_id: str, data: m.Replay) -> m.Replayed:
    sub = await _subscription(session, who, subscription_id)
    _operable(sub, who)
    if sub.status != m.SubscriptionStatus.ACTIVE:
        raise Conflict(
            f"subscription {sub.id} is disabled ({sub.disabled_reason}); enable it first",
            slug="subscription-disabled",
            current_state=sub.status,
        )
    since = body_instant(data.since, "since")
    until = body_instant(data.until, "until") or utcnow()
    assert since is not None
    now = utcnow()
    window = and_(events.c.occurred_at >= since, events.c.occurred_at <= until)
    states = ["failed", "delivered"] if data.include_delivered else ["failed"]
    requeued = await session.execute(
        update(messages)
        .where(
            messages.c.subscription_id == sub.id,
            messages.c.status.in_(states),
            messages.c.event_id.in_(select(events.c.event_id).where(window)),
        )
        .values(
            status="pending",
            next_attempt_at=now,
            trigger="replay",
            updated_at=now,
            version=messages.c.version + 1,
        )
    )
    has_message = exists().where(
        messages.c.subscription_id == sub.id, messages.c.event_id == events.c.event_id
    )
    missed_query = select(events.c.event_id, events.c.event_type, events.c.supplier_id).where(
        window, events.c.event_type.in_(sub.event_types), ~has_message
    )
    missed = [
        r
        for r in (await session.execute(missed_query)).all()
        if access.receives(sub.supplier_id, r.supplier_id)
    ]
    if missed:
        rows = [message_row(sub.id, r.event_id, r.event_type, now) | {"trigger": "replay"} for r in missed]
        await session.execute(messages.insert(), rows)
    signals.notify_on_commit(session, SIGNAL)
    return m.Replayed(
        subscription_id=sub.id, requeued=int(getattr(requeued, "rowcount", 0) or 0), created=len(missed)
    )


# --- views -------------------------------------------------------------------------------------
def view(row: SubscriptionRow) -> m.Subscription:
    return to_wire(row, m.Subscription, subscription_id=row.id, previous_secret_expires_at=_overlap(row))


def _token_time(who: Principal) -> datetime:
    """When the caller's token was issued (the epoch without `iat`: any revocation covers it)."""
    return datetime.fromtimestamp(who.issued_at, UTC)


def _overlap(row: SubscriptionRow) -> datetime | None:
    until = row.previous_secret_expires_at
    return until if until is not None and until > utcnow() else None


def message_view(row: MessageRow) -> m.Message:
    return to_wire(row, m.Message, message_id=row.id)
