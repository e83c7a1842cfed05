"""The fixtures every test folder shares (registered by tests/conftest.py).

Servers for the whole session: a real Redis (`redis_server`) and, when a test asks for it, a real
PostgreSQL (`postgres`, through `database_url("postgres", name)`). Services under test:

- `in_process(name, database_url=..., **settings)`: the service's app in this process, behind
  Litestar's test client (the fast lane; tests/support/inprocess.py);
- `launch(name, database_url=..., port=None, **settings)`: the service as its own OS process on
  loopback (the process lane);
- `spawn(*argv, ...)` and `plantbridge_cli(*args, env=...)`: any other child process;
  `gateway_cli(database_url, *args, **settings)`: `plantbridge gateway <args>`, which must succeed.

Tests that use `launch`, `spawn` or `plantbridge_cli` (directly or through another fixture) are
marked `e2e`, and tests that touch PostgreSQL `postgres`, by tests/conftest.py: `make test-fast`
leaves both out. Every service under test trusts the test issuer (tests/support/tokens.py), so
`tests.support.http.client(service, scopes=[...])` gets through.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from contracts.topology import by_name
from plantbridge.processes import RedisServer, ServiceProcess
from tests.support.inprocess import InProcess, Serve
from tests.support.postgres import PostgresServer, PostgresUnavailable
from tests.support.tokens import auth_settings
from tests.support.tokens import service_env as trust_test_issuer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
IN_CI = os.environ.get("CI") == "true"
# Under pytest-xdist each worker has its own servers; its logs carry its name.
WORKER = f"{os.environ['PYTEST_XDIST_WORKER']}-" if "PYTEST_XDIST_WORKER" in os.environ else ""
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

Launch = Callable[..., ServiceProcess]
Spawn = Callable[..., "subprocess.Popen[str]"]
PlantbridgeCli = Callable[..., "subprocess.CompletedProcess[str]"]
GatewayCli = Callable[..., str]
DatabaseUrl = Callable[[str, str], str]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        if IN_CI:  # CI installs PostgreSQL; never let its tests vanish silently there
            raise
        pytest.skip(f"PostgreSQL not available here: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DatabaseUrl:
    """`database_url(backend, name)`: a fresh, empty database on SQLite or PostgreSQL."""

    def make(backend: str, name: str) -> str:
        safe = re.sub(r"[^a-z0-9_]", "_", name.lower())[:50]
        if backend == "postgres":
            server: PostgresServer = request.getfixturevalue("postgres")
            return server.new_database(safe)
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp(safe)}/{safe}.db"

    return make


@pytest.fixture(scope="session")
def in_process(redis_server: RedisServer) -> Iterator[Serve]:
    """`in_process(name, database_url=None, **settings)`: the service's app, started in this
    process (its lifespan runs: migrations, relay, consumers). `settings` are the service's own
    (lower-case field names, as `create_app` takes them); stop it with `.stop()` when the fixture
    that made it ends."""
    started: list[InProcess] = []

    def start(name: str, database_url: str | None = None, **settings: Any) -> InProcess:
        values: dict[str, Any] = {"redis_url": redis_server.url, **auth_settings(), **settings}
        if database_url:
            values["database_url"] = database_url
        service = InProcess.of(name, values)
        started.append(service)
        return service.start()

    yield start
    for service in reversed(started):
        service.stop()


@pytest.fixture(scope="session")
def launch(redis_server: RedisServer) -> Iterator[Launch]:
    """`launch(name, database_url=None, port=None, **settings)`: the service as its own process
    (on a free port unless `port` is given), logging to test-artifacts/logs."""
    started: list[ServiceProcess] = []
    logs = ARTIFACTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def start(
        name: str, database_url: str | None = None, port: int | None = None, **env: str
    ) -> ServiceProcess:
        prefix = by_name(name).env_prefix
        settings = {
            f"{prefix}_REDIS_URL": redis_server.url,
            **trust_test_issuer(prefix),
            **{f"{prefix}_{k.upper()}": v for k, v in env.items()},
        }
        if database_url:
            settings[f"{prefix}_DATABASE_URL"] = database_url
        log = logs / f"{WORKER}{name}-{len(started)}.log"
        process = ServiceProcess(name, settings, port=port, log_path=log)
        started.append(process)
        return process.start()

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture(scope="session")
def spawn() -> Iterator[Spawn]:
    """`spawn(*argv, env=None, environ=None, **popen)`: a child process in text mode, run from
    the repository root with this process's environment (or `environ`) plus `env`. Its owner
    stops it; one still running when the session ends is killed."""
    children: list[subprocess.Popen[str]] = []

    def start(
        *argv: str,
        env: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        **popen: Any,
    ) -> subprocess.Popen[str]:
        base = os.environ if environ is None else environ
        child = subprocess.Popen(list(argv), cwd=ROOT, env={**base, **(env or {})}, text=True, **popen)
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()


@pytest.fixture(scope="session")
def plantbridge_cli() -> PlantbridgeCli:
    """`plantbridge_cli(*args, env=None)`: run `plantbridge <args>` to its end, as an operator
    would (with `env` added to this process's environment); the caller checks the outcome."""

    def run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plantbridge", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def gateway_cli(plantbridge_cli: PlantbridgeCli) -> GatewayCli:
    """`gateway_cli(database_url, *args, **settings)`: `plantbridge gateway <args>` on that
    database (`settings`: more GATEWAY_* values), which must succeed; returns what it printed."""

    def run(database_url: str, *args: str, **settings: str) -> str:
        env = {f"GATEWAY_{k.upper()}": v for k, v in settings.items()}
        result = plantbridge_cli("gateway", *args, env={"GATEWAY_DATABASE_URL": database_url, **env})
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    return run
