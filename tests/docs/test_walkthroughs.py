"""The walkthroughs in docs/walkthroughs/ run as written against a live platform: every service
its own process behind the gateway, the operator client registered and the demo loaded, as
`make run` leaves them. Each document runs in a folder laid out like the repository after
`make run` (`data/clients.json`, `data/gateway.db`, `.venv`, `docs`); the gateway's address
stands in for http://127.0.0.1:8000."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from plantbridge.demo import load_demo
from plantbridge.launcher import OPERATOR_CLIENT, OPERATOR_SCOPES
from plantbridge.processes import RedisServer
from tests.support.fixtures import ROOT, DatabaseUrl, Launch
from tests.support.platform import Platform
from tests.support.walkthroughs import run

WALKTHROUGHS = ROOT / "docs" / "walkthroughs"
# In the order a reader meets them; the first uses the demo's lot as `make run` left it.
ORDER = [
    "first-steps.md",
    "erp.md",
    "qms.md",
    "cmms.md",
    "mes.md",
    "xref.md",
    "technician.md",
    "supplier-portal.md",
    "operations.md",
]


@pytest.fixture(scope="module")
def workspace(
    launch: Launch,
    database_url: DatabaseUrl,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, str]]:
    """A folder as `make run` leaves the repository, and the gateway users call."""
    folder = tmp_path_factory.mktemp("walkthroughs")
    data = folder / "data"
    data.mkdir()
    for name in (".venv", "docs"):
        (folder / name).symlink_to(ROOT / name)
    platform = Platform(launch, database_url, "sqlite", "walkthroughs", redis_server.url)
    platform.start_gateway(database_url=f"sqlite+aiosqlite:///{data}/gateway.db")
    try:
        secret = platform.register_client(OPERATOR_CLIENT, OPERATOR_SCOPES)
        (data / "clients.json").write_text(json.dumps({OPERATOR_CLIENT: secret}))
        edge = platform.start_all()
        load_demo(edge.url, OPERATOR_CLIENT, secret)
        yield folder, edge.url
    finally:
        platform.stop()


def test_every_walkthrough_is_run() -> None:
    assert sorted(p.name for p in WALKTHROUGHS.glob("*.md")) == sorted(ORDER)


@pytest.mark.parametrize("name", ORDER)
def test_walkthrough_runs_as_written(workspace: tuple[Path, str], name: str) -> None:
    folder, gateway = workspace
    env = {**os.environ, "GW": gateway}
    run(WALKTHROUGHS / name, cwd=folder, env=env, replace={"http://127.0.0.1:8000": gateway}, timeout=300)
