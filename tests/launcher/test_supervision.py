"""`plantbridge up` keeps the platform running: kill -9 any one of its processes and it is back and
serving within 10 s while nothing else stopped; restarts show in health, `plantbridge status` and the
operations console; a process that keeps crashing is reported, not restarted in a tight loop; only
stopping the platform stops them. Runs the real launcher, on ports of its own (--port-offset)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError

from contracts.models.supervision import ProcessState, SupervisedProcess
from contracts.topology import SERVICES
from plantbridge.launcher import OPERATOR_CLIENT
from plantbridge.supervisor import STATE_FILE, read_state
from tests.support.fixtures import PlantbridgeCli, Spawn
from tests.support.wait import eventually

BACK_WITHIN = 10.0  # the promise: killed, back and serving within 10 s


@dataclass
class Embedded:
    data: Path
    offset: int
    process: subprocess.Popen[str]
    out: Path
    err: Path

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{next(s.port for s in SERVICES if s.name == name) + self.offset}"

    def pids(self) -> dict[str, int | None]:
        return {p.name: p.pid for p in read_state(self.data / STATE_FILE).processes}

    def supervised(self, name: str) -> SupervisedProcess:
        return next(p for p in read_state(self.data / STATE_FILE).processes if p.name == name)

    def serving(self, name: str) -> bool:
        url = self.supervised(name).url or ""
        try:
            if url.startswith("redis://"):
                with Redis.from_url(url, socket_timeout=1) as redis:
                    return bool(redis.ping())
            return httpx.get(f"{url}/health/ready", timeout=1).status_code == 200
        except (httpx.HTTPError, RedisError):
            return False


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports() -> tuple[int, int]:
    """A port offset under which every service's port (and Redis's) is free here; below the
    ephemeral range (32768 and up), where other processes' outgoing connections take ports."""
    for _ in range(200):
        offset = random.randrange(10_000, 24_000)
        redis_port = 6380 + offset
        if all(_free(s.port + offset) for s in SERVICES) and _free(redis_port):
            return offset, redis_port
    raise RuntimeError("no free port range found")


def start_platform(spawn: Spawn, data: Path, *only: str) -> Embedded:
    offset, redis_port = pick_ports()
    out, err = data.parent / f"{data.name}.out", data.parent / f"{data.name}.err"
    command = [sys.executable, "-m", "plantbridge", "up", "--data", str(data), "--port-offset", str(offset)]
    command += ["--redis-port", str(redis_port), *(["--only", ",".join(only)] if only else [])]
    with out.open("w") as stdout, err.open("w") as stderr:
        process = spawn(*command, stdout=stdout, stderr=stderr)
    platform = Embedded(data, offset, process, out, err)

    def up() -> bool:
        assert process.poll() is None, f"plantbridge up exited: {err.read_text()[-2000:]}"
        if "Plantbridge is up" not in out.read_text():
            return False
        # `plantbridge status` answers from the moment the platform says it is up.
        assert (data / STATE_FILE).exists(), "up before its state file was written"
        return True

    eventually(up, timeout=300, interval=0.5, what="plantbridge up to start every service")
    return platform


def stop_platform(platform: Embedded) -> None:
    pids = [pid for pid in platform.pids().values() if pid]
    platform.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert platform.process.wait(timeout=120) == 0
    assert "stopped." in platform.out.read_text()
    assert [pid for pid in pids if _alive(pid)] == [], "Ctrl-C left processes running"
    assert {p.state for p in read_state(platform.data / STATE_FILE).processes} == {ProcessState.STOPPED}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits to be reaped by its parent.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def platform(spawn: Spawn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    running = start_platform(spawn, tmp_path_factory.mktemp("up") / "data")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            stop_platform(running)


def test_each_process_killed_is_back_within_10_s_and_nothing_else_stopped(
    platform: Embedded, plantbridge_cli: PlantbridgeCli
) -> None:
    names = list(platform.pids())  # both Redis servers and every service
    assert {"redis", "redis-counters", *(s.name for s in SERVICES)} <= set(names)
    took: dict[str, float] = {}
    for name in names:
        before = platform.pids()
        assert all(before.values()), before
        os.kill(before[name] or 0, signal.SIGKILL)
        killed = time.monotonic()

        def back(name: str = name, old: int | None = before[name]) -> bool:
            return platform.pids()[name] not in (None, old) and platform.serving(name)

        eventually(back, timeout=60, interval=0.1, what=f"{name} to be back")
        took[name] = time.monotonic() - killed
        after = platform.pids()
        others = {n: pid for n, pid in before.items() if n != name}
        assert {n: after[n] for n in others} == others, f"killing {name} restarted others"
        assert all(_alive(pid or 0) for pid in others.values()), f"killing {name} stopped others"
    print("\nkill -9 -> serving again (s): " + ", ".join(f"{n} {t:.1f}" for n, t in took.items()))
    slow = {n: round(t, 1) for n, t in took.items() if t > BACK_WITHIN}
    assert slow == {}, f"not back within {BACK_WITHIN:g} s"

    # Health, `plantbridge status` and the operations console say what happened.
    for service in SERVICES:
        assert httpx.get(f"{platform.url(service.name)}/health/live").json()["restarts"] == 1
    status = plantbridge_cli("status", "--data", str(platform.data))
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("killed by SIGKILL") == len(names)
    log = (platform.data / "logs" / "supervisor.log").read_text()
    assert all(f"{name} killed by SIGKILL" in log and f"{name} is back (restart 1)" in log for name in names)
    assert restarts_in_console(platform) == dict.fromkeys(names, 1)


def restarts_in_console(platform: Embedded) -> dict[str, int]:
    secret = json.loads((platform.data / "clients.json").read_text())[OPERATOR_CLIENT]
    gateway = platform.url("gateway")
    token = httpx.post(
        f"{gateway}/oauth2/token",
        auth=(OPERATOR_CLIENT, secret),
        data={"grant_type": "client_credentials", "scope": "operations:read"},
    ).json()["access_token"]
    answer = httpx.get(
        f"{gateway}/operations/v1/monitors/process-restarts",
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    return {item["record_id"]: item["details"]["restarts"] for item in answer.json()["items"]}


def test_a_process_that_keeps_crashing_is_reported_not_restarted_in_a_tight_loop(
    spawn: Spawn, plantbridge_cli: PlantbridgeCli, tmp_path: Path
) -> None:
    platform = start_platform(spawn, tmp_path / "data", "xref")
    try:
        waits = []
        for crash in range(1, 6):
            pid = platform.pids()["xref"]
            os.kill(pid or 0, signal.SIGKILL)
            if crash == 5:
                break

            def restarted(crash: int = crash) -> bool:
                xref = platform.supervised("xref")
                return xref.restarts == crash and xref.state is ProcessState.RUNNING

            eventually(restarted, timeout=60, interval=0.1, what=f"restart {crash}")
            xref = platform.supervised("xref")
            assert xref.started_at is not None
            assert xref.last_exit_at is not None
            waits.append((xref.started_at - xref.last_exit_at).total_seconds())
        # Each restart waited twice as long as the one before (0.5, 1, 2, 4 s)...
        assert [round(w * 2) / 2 for w in waits] == [0.5, 1.0, 2.0, 4.0], waits

        # ...and the fifth crash within two minutes is a crash loop: reported, retried only slowly.
        def looping() -> bool:
            return platform.supervised("xref").state is ProcessState.CRASH_LOOP

        eventually(looping, timeout=10, interval=0.1, what="the crash loop to be reported")
        xref = platform.supervised("xref")
        assert xref.next_start_at is not None
        assert xref.last_exit_at is not None
        assert xref.next_start_at - xref.last_exit_at == timedelta(seconds=30)
        time.sleep(5)
        assert not platform.serving("xref"), "restarted at once despite the crash loop"
        status = plantbridge_cli("status", "--data", str(platform.data))
        assert status.returncode == 1
        assert "crash-loop" in status.stdout
        assert "xref keeps crashing: 5 exits" in (platform.data / "logs" / "supervisor.log").read_text()
        assert platform.serving("redis")  # the rest runs on
    finally:
        stop_platform(platform)
