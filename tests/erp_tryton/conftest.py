"""A real trytond for the ERP API's Tryton backend: one template database per test session
(`trytond-admin`, ~60-90 s here), copied for each test module and served by its own trytond."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plantbridge.tryton import TrytonServer, ensure_installed, initialise_template

# Our locations the tests use, each with its unrestricted, quality-inspection and blocked location.
PLACES = ("WH1", "WH2", "FG1")
LOCATIONS = json.dumps(
    {p: {"unrestricted": p, "quality_inspection": f"{p}-QI", "blocked": f"{p}-BLK"} for p in PLACES}
)
_NAMES = itertools.count()

MakeTryton = Callable[[], TrytonServer]


@pytest.fixture(scope="session")
def tryton_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ensure_installed()
    folder = tmp_path_factory.mktemp("tryton")
    initialise_template(folder)
    return folder


@pytest.fixture(scope="session")
def make_tryton(tryton_folder: Path) -> Iterator[MakeTryton]:
    """`make_tryton()`: a trytond on a free port with a fresh, prepared copy of the template."""
    servers: list[TrytonServer] = []

    def make() -> TrytonServer:
        server = TrytonServer(tryton_folder, database=f"plant{next(_NAMES)}")
        server.initialise()
        servers.append(server.start())
        server.prepare(LOCATIONS)
        return server

    yield make
    for server in servers:
        server.stop()


def erp_settings(server: TrytonServer) -> dict[str, str]:
    """`launch("erp", **erp_settings(server))`: the ERP API in front of this Tryton."""
    return {k.removeprefix("ERP_").lower(): v for k, v in server.erp_env(LOCATIONS).items()}
