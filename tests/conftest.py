"""Session-wide real servers (Redis, PostgreSQL) and a launcher for service processes.

Integration and end-to-end tests talk to real processes over HTTP on loopback; nothing here
is a fake.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plantbridge.processes import RedisServer, ServiceProcess
from plantbridge.services import by_name
from tests.support.postgres import PostgresServer, PostgresUnavailable
from tests.support.tokens import service_env as trust_test_issuer

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
IN_CI = os.environ.get("CI") == "true"
# Under pytest-xdist each worker has its own servers; its logs carry its name.
WORKER = f"{os.environ['PYTEST_XDIST_WORKER']}-" if "PYTEST_XDIST_WORKER" in os.environ else ""

Launch = Callable[..., ServiceProcess]


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


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, str], str]:
    """`database_url(backend, name)`: a fresh, empty database on SQLite or PostgreSQL."""

    def make(backend: str, name: str) -> str:
        safe = re.sub(r"[^a-z0-9_]", "_", name.lower())[:50]
        if backend == "postgres":
            server: PostgresServer = request.getfixturevalue("postgres")
            return server.new_database(safe)
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp(safe)}/{safe}.db"

    return make


@pytest.fixture(scope="session")
def launch(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launch]:
    """`launch(name, database_url=..., port=None, **env)`: start a service process (on a free port
    unless `port` is given). Every service trusts the test issuer (tests/support/tokens.py), so
    `tests.support.http.client(process, scopes=[...])` gets through; `env` may override it."""
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
