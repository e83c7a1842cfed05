"""After-commit signals: wake in-process workers the moment their work is committed.

A use case marks its session (`notify_on_commit(session, "outbox")`); when that session's
transaction commits, every callback subscribed to the name runs. A rollback drops the marks.
Work on a Core connection inside `Database.run` marks the connection the same way; the
database fires the marks when that transaction commits (`taken`, `fire`).
Workers still poll, so work committed by other processes is found too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Connection
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEY = "pb.signals"
_subscribers: dict[str, set[Callable[[], None]]] = {}
_lock = threading.Lock()


def notify_on_commit(target: AsyncSession | Session | Connection, name: str) -> None:
    target.info.setdefault(_KEY, set()).add(name)


def taken(conn: Connection) -> set[str]:
    """The names a Core connection's transaction marked, cleared: fire them if it committed."""
    names: set[str] = conn.info.pop(_KEY, set())
    return names


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
    fire(session.info.pop(_KEY, set()))


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
