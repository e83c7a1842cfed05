"""The experience APIs with the system APIs they call.

`apps` (most tests): ERP, QMS and CMMS served in process, and the technician and supplier APIs
in process calling them through the typed clients' transport seam, with tokens from the test
issuer. `platform` (the contract and gateway tests): every service its own process, the gateway
issuing the experience APIs' own client tokens. Callers use signed tokens carrying
person/site/supplier either way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.inprocess import Apps, outbound_to
from tests.support.platform import Platform

SYSTEMS = ("erp", "qms", "cmms")
EXPERIENCES = ("technician", "supplier")


@pytest.fixture(scope="package", params=BACKENDS)
def apps(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Apps]:
    """The system APIs on each backend; the experience APIs keep only their Idempotency-Key
    answers, in a SQLite file of their own (as when deployed)."""
    backend = str(request.param)
    served = Apps()
    for name in SYSTEMS:
        served.services[name] = in_process(name, database_url=database_url(backend, f"exp_{backend}_{name}"))
    systems = dict(served.services)
    for name in EXPERIENCES:
        served.services[name] = in_process(
            name,
            database_url=database_url("sqlite", f"exp_{backend}_{name}"),
            outbound=outbound_to(name, systems),
        )
    yield served
    served.stop()


@pytest.fixture(scope="package", params=BACKENDS)
def platform(request: pytest.FixtureRequest, launch, database_url, redis_server) -> Iterator[Platform]:
    backend = str(request.param)
    p = Platform(launch, database_url, backend, f"experience_{backend}", redis_server.url)
    p.start_gateway()
    for name in SYSTEMS:
        p.start(name)
    urls = {f"{name}_url": p.services[name].url for name in SYSTEMS}
    for name in EXPERIENCES:
        own = {k: v for k, v in urls.items() if name == "technician" or k != "cmms_url"}
        p.services[name] = launch(
            name,
            database_url=database_url("sqlite", f"experience_{backend}_{name}"),
            redis_url=p.redis_url,
            **p.own_client(name),
            **own,
            **p.trust(name),
        )
    yield p
    p.stop()
