"""What `plantbridge up` reports about the processes it supervises: its state file
(`<data>/supervisor.json`), read by `plantbridge status` and the operations console."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec


class ProcessState(StrEnum):
    STARTING = "starting"  # spawned, not serving yet
    RUNNING = "running"
    RESTARTING = "restarting"  # died; started again at next_start_at
    CRASH_LOOP = "crash-loop"  # died again and again: tried only every few tens of seconds
    STOPPED = "stopped"  # the platform was stopped


class SupervisedProcess(msgspec.Struct, kw_only=True):
    name: str  # a service's name, or "redis"
    state: ProcessState
    pid: int | None = None
    url: str | None = None
    restarts: int = 0  # since `plantbridge up` started it
    started_at: datetime | None = None  # the current (or last) run
    last_exit: str | None = None  # "killed by SIGKILL", "exit code 1", "not ready after 60 s"
    last_exit_at: datetime | None = None
    next_start_at: datetime | None = None  # when restarting or crash-looping
    log: str | None = None


class SupervisorState(msgspec.Struct, kw_only=True):
    supervisor_pid: int
    updated_at: datetime
    processes: list[SupervisedProcess]
