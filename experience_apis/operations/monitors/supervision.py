"""Processes of the embedded platform that died and were restarted, or keep dying, as the
supervisor of `plantbridge up` reports them (its state file). Under an orchestrator (compose,
Kubernetes) restarts are the orchestrator's to count, and this monitor has nothing to say."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path

import msgspec

from contracts.models.operations import Offender
from contracts.models.supervision import ProcessState, SupervisedProcess, SupervisorState
from experience_apis.operations.monitors.base import Found, Monitor
from experience_apis.operations.upstreams import Upstreams


async def restarts_monitor(up: Upstreams, now: datetime) -> Found:
    found = Found()
    if not up.supervisor_state_file:
        return found
    path = Path(up.supervisor_state_file)
    try:
        state = msgspec.json.decode(await asyncio.to_thread(path.read_bytes), type=SupervisorState)
    except (OSError, msgspec.DecodeError) as exc:
        found.warnings.append(("supervisor", f"state file {path} unreadable ({exc}); restarts unknown"))
        return found
    if not _alive(state.supervisor_pid):
        found.warnings.append(
            (
                "supervisor",
                f"the supervisor (pid {state.supervisor_pid}) is not running; as of {state.updated_at}",
            )
        )
    for process in state.processes:
        if process.restarts or process.state not in (ProcessState.RUNNING, ProcessState.STOPPED):
            found.items.append(_offender(process))
    return found


def _offender(p: SupervisedProcess) -> Offender:
    last = f"{p.last_exit} at {p.last_exit_at:%H:%M:%S} UTC" if p.last_exit and p.last_exit_at else "unknown"
    then = f"{p.next_start_at:%H:%M:%S} UTC" if p.next_start_at else "soon"
    times = "once" if p.restarts == 1 else f"{p.restarts} times"
    summary = {
        ProcessState.CRASH_LOOP: f"{p.name} keeps crashing (last: {last}); next try at {then}",
        ProcessState.RESTARTING: f"{p.name} is down ({last}); restarting at {then}",
        ProcessState.STARTING: f"{p.name} is starting again (restart {p.restarts}; last exit {last})",
    }.get(p.state, f"{p.name} was restarted {times}; last exit {last}")
    return Offender(
        record_type="process",
        record_id=p.name,
        summary=summary + (f"; log {p.log}" if p.log and p.state is not ProcessState.RUNNING else ""),
        since=p.last_exit_at,
        details={
            "state": p.state,
            "restarts": p.restarts,
            "pid": p.pid,
            "url": p.url,
            "last_exit": p.last_exit,
            "started_at": p.started_at.isoformat() if p.started_at else None,
            "next_start_at": p.next_start_at.isoformat() if p.next_start_at else None,
            "log": p.log,
        },
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


MONITORS = (
    Monitor(
        "process-restarts",
        "Process restarts",
        "Processes of `plantbridge up` that died and were restarted, are down, or keep crashing "
        "(restarted only every few tens of seconds then: see their log).",
        restarts_monitor,
    ),
)
