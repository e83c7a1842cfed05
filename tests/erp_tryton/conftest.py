"""A real trytond for the ERP API's Tryton backend: one template database per test session
(`trytond-admin`, ~60-90 s here), copied for each test module and served by its own trytond
(`tryton`), with Tryton's administrator (`admin`) and a proxy that can kill its caller (`switch`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plantbridge.tryton import TrytonServer, ensure_installed, initialise_template
from tests.erp_tryton.killswitch import KillSwitch
from tests.support.tryton import LOCATIONS, Rpc

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


@pytest.fixture(scope="module")
def tryton(make_tryton: MakeTryton) -> TrytonServer:
    """This module's own Tryton database and server."""
    return make_tryton()


@pytest.fixture(scope="module")
def admin(tryton: TrytonServer) -> Iterator[Rpc]:
    rpc = Rpc(tryton, "admin", "admin")
    yield rpc
    rpc.close()


@pytest.fixture(scope="module")
def switch(tryton: TrytonServer) -> Iterator[KillSwitch]:
    """Put `switch.url` between a service and Tryton to kill the service at a chosen call."""
    proxy = KillSwitch(tryton.url)
    yield proxy
    proxy.close()
