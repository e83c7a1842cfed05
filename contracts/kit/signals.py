"""After-commit signals: wake in-process workers the moment their work is committed.

A use case marks its session (`notify_on_commit(session, "outbox")`); when that session's
transaction commits, every callback subscribed to the name runs. A rollback drops the marks.
Workers still poll, so work committed by other processes is found too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEY = "pb.signals"
_subscribers: dict[str, set[Callable[[], None]]] = {}
_lock = threading.Lock()


def notify_on_commit(session: AsyncSession | Session, name: str) -> None:
    session.info.setdefault(_KEY, set()).add(name)


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
    names = session.info.pop(_KEY, set())
    if not names:
        return
    with _lock:
        callbacks = [cb for name in names for cb in _subscribers.get(name, ())]
    for callback in callbacks:
        callback()


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
