"""Keeping the embedded platform running: `plantbridge up` restarts any of its processes (Redis
too) that dies, with backoff, and reports one that keeps dying instead of restarting it in a tight
loop. Only stopping the platform (Ctrl-C, SIGTERM, SIGHUP) stops them.

Each restart is logged (stderr and `<data>/logs/supervisor.log`), counted in the state file
(`<data>/supervisor.json`: `plantbridge status`, the operations console's "Process restarts"
monitor) and handed to the restarted service, whose health answers carry it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from contracts.kit.observability import RESTARTS_VARIABLE
from contracts.models.supervision import ProcessState, SupervisedProcess, SupervisorState
from plantbridge.processes import ChildProcess, ServiceProcess

log = logging.getLogger("plantbridge.supervisor")
STATE_FILE = "supervisor.json"  # in the data folder


@dataclass(frozen=True)
class Backoff:
    first: float = 0.5  # seconds before the first restart
    most: float = 30.0  # the longest wait between restarts, and a crash loop's pace
    stable_after: float = 60.0  # running this long: its next crash counts as a first one again
    loop_crashes: int = 5  # this many crashes...
    loop_window: float = 120.0  # ...within this many seconds is a crash loop
    start_timeout: float = 60.0  # not serving this long after a start counts as a crash

    def delay(self, crashes: int) -> float:
        return min(self.most, self.first * 2.0 ** max(0, crashes - 1))


@dataclass
class Watched:
    child: ChildProcess
    url: str | None = None
    state: ProcessState = ProcessState.RUNNING
    restarts: int = 0
    crashes: int = 0  # since it last ran stably: sets the backoff
    recent: deque[float] = field(default_factory=deque)  # crash times within the loop window
    started: float = 0.0  # monotonic
    started_at: datetime | None = None
    last_exit: str | None = None
    last_exit_at: datetime | None = None
    next_start: float = 0.0  # monotonic
    next_start_at: datetime | None = None

    def report(self) -> SupervisedProcess:
        return SupervisedProcess(
            name=self.child.name,
            state=self.state,
            pid=self.child.pid if self.state in (ProcessState.STARTING, ProcessState.RUNNING) else None,
            url=self.url,
            restarts=self.restarts,
            started_at=self.started_at,
            last_exit=self.last_exit,
            last_exit_at=self.last_exit_at,
            next_start_at=self.next_start_at,
            log=str(self.child.log_path) if self.child.log_path else None,
        )


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


class Supervisor:
    def __init__(
        self,
        children: Sequence[tuple[ChildProcess, str | None]],
        state_file: Path,
        backoff: Backoff | None = None,
    ) -> None:
        """`children`: each running process (already started) with the URL it serves, if any."""
        self.backoff = backoff or Backoff()
        now, wall = time.monotonic(), datetime.now(UTC)
        self.watched = [
            Watched(
                child, url, started=child.spawned, started_at=wall - timedelta(seconds=now - child.spawned)
            )
            for child, url in children
        ]
        self.state_file = state_file

    def watch(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Supervise until `stop` is set; the caller then stops the children."""
        self.write()
        while not stop.wait(interval):
            if self.check(stop):
                self.write()

    def check(self, stop: threading.Event | None = None) -> bool:
        """One round over every child; True when anything changed."""
        changed = False
        for watched in self.watched:
            if stop is not None and stop.is_set():
                break  # stopping: a child that exits now is not restarted
            changed |= self._check(watched)
        return changed

    def _check(self, w: Watched) -> bool:
        now = time.monotonic()
        child = w.child
        if w.state in (ProcessState.STARTING, ProcessState.RUNNING):
            code = child.exited()
            if code is not None:
                self._crashed(w, describe_exit(code), now)
                return True
            if w.state is ProcessState.STARTING:
                if child.ready():
                    w.state = ProcessState.RUNNING
                    log.info(
                        "%s is back (restart %d), serving after %.1f s",
                        child.name,
                        w.restarts,
                        now - w.started,
                    )
                    return True
                if now - w.started > self.backoff.start_timeout:
                    child.kill()
                    self._crashed(w, f"not ready after {self.backoff.start_timeout:g} s", now)
                    return True
            elif w.crashes and now - w.started >= self.backoff.stable_after:
                w.crashes = 0  # it runs stably again: the next crash waits the shortest time
                return False
            return False
        if now >= w.next_start:
            w.restarts += 1
            if isinstance(child, ServiceProcess):
                child.env[RESTARTS_VARIABLE] = str(w.restarts)
            try:
                child.spawn()
            except OSError as exc:
                self._crashed(w, f"could not start: {exc}", now)
                return True
            w.state, w.started, w.started_at = ProcessState.STARTING, now, datetime.now(UTC)
            w.next_start_at = None
            return True
        return False

    def _crashed(self, w: Watched, why: str, now: float) -> None:
        w.crashes += 1
        w.recent.append(now)
        while w.recent and now - w.recent[0] > self.backoff.loop_window:
            w.recent.popleft()
        w.last_exit, w.last_exit_at = why, datetime.now(UTC)
        looping = len(w.recent) >= self.backoff.loop_crashes
        delay = self.backoff.most if looping else self.backoff.delay(w.crashes)
        w.state = ProcessState.CRASH_LOOP if looping else ProcessState.RESTARTING
        w.next_start = now + delay
        w.next_start_at = w.last_exit_at + timedelta(seconds=delay)
        ran = now - w.started
        where = f"; see {w.child.log_path}" if w.child.log_path else ""
        if looping:
            log.error(
                "%s keeps crashing: %d exits in %.0f s, the last %s after %.1f s; "
                "trying again every %.0f s%s",
                w.child.name,
                len(w.recent),
                now - w.recent[0],
                why,
                ran,
                delay,
                where,
            )
        else:
            log.warning("%s %s after %.1f s; restarting it in %.1f s%s", w.child.name, why, ran, delay, where)

    def stopped(self) -> None:
        for w in self.watched:
            w.state, w.next_start_at = ProcessState.STOPPED, None
        self.write()

    def write(self) -> None:
        """Replace the state file in one step, so a reader never sees half of it."""
        state = SupervisorState(
            supervisor_pid=os.getpid(),
            updated_at=datetime.now(UTC),
            processes=[w.report() for w in self.watched],
        )
        partial = self.state_file.with_suffix(".tmp")
        partial.write_bytes(msgspec.json.encode(state))
        partial.replace(self.state_file)


def read_state(path: Path) -> SupervisorState:
    return msgspec.json.decode(path.read_bytes(), type=SupervisorState)


def print_status(data: str) -> int:
    """A table of the supervised processes; exit 1 unless every one is running."""
    path = Path(data) / STATE_FILE
    if not path.exists():
        print(f"no {path}: `plantbridge up --data {data}` has not run here", file=sys.stderr)
        return 2
    state = read_state(path)
    print(f"supervisor pid {state.supervisor_pid}, as of {state.updated_at:%Y-%m-%d %H:%M:%S} UTC")
    print(f"{'process':<14} {'state':<11} {'pid':>7} {'restarts':>8}  last exit")
    for p in state.processes:
        last = f"{p.last_exit} at {p.last_exit_at:%H:%M:%S}" if p.last_exit and p.last_exit_at else "-"
        pid = str(p.pid) if p.pid else "-"
        print(f"{p.name:<14} {p.state.value:<11} {pid:>7} {p.restarts:>8}  {last}")
    return 0 if all(p.state is ProcessState.RUNNING for p in state.processes) else 1
