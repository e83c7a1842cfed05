"""After-commit signals: wake in-process workers the moment their work is committed.

A use case marks its session (`notify_on_commit(session, "outbox")`); when that session's
transaction commits, every callback subscribed to the name runs. A rollback drops the marks.
Work on a Core connection inside `Database.run` (or a consumer's batch handler) marks the
connection the same way; the database fires the marks when that transaction commits (`taken`,
`fire`). A connection's marks live in its pooled DBAPI connection's `info`, so the pool drops
any left at check-in (`forget`): a mark never fires for a later, unrelated commit.
Workers still poll, so work committed by other processes is found too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, MutableMapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEY = "pb.signals"
_subscribers: dict[str, set[Callable[[], None]]] = {}
_lock = threading.Lock()


def notify_on_commit(target: AsyncSession | Session | Connection, name: str) -> None:
    """Mark a session, or a Core connection inside `Database.run` or a batch handler (elsewhere
    a connection's mark is dropped when it goes back to the pool, never fired)."""
    target.info.setdefault(_KEY, set()).add(name)


def taken(info: MutableMapping[Any, Any]) -> set[str]:
    """The names a Core connection's transaction marked (in its `info`), cleared: fire them if
    it committed."""
    names: set[str] = info.pop(_KEY, set())
    return names


def forget(_dbapi_connection: Any, record: Any) -> None:
    """A pool's check-in listener: marks no transaction fired die with their checkout."""
    record.info.pop(_KEY, None)


def fire(names: set[str]) -> None:
    if not names:
        return
    with _lock:
        callbacks = [cb for name in names for cb in _subscribers.get(name, ())]
    for callback in callbacks:
        callback()


def subscribe(name: str, callback: Callable[[], None]) -> Callable[[], None]:
    """Returns the unsubscribe function."""
    with _lock:
        _subscribers.setdefault(name, set()).add(callback)

    def unsubscribe() -> None:
        with _lock:
            _subscribers.get(name, set()).discard(callback)

    return unsubscribe


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    fire(taken(session.info))


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
