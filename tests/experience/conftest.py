"""The experience APIs on a real platform: the gateway issues their own client tokens, the system
APIs they call run as processes, and callers use signed tokens carrying person/site/supplier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.platform import Platform


@pytest.fixture(scope="package", params=["sqlite", "postgres"])
def platform(request: pytest.FixtureRequest, launch, database_url, redis_server) -> Iterator[Platform]:
    """The system APIs and the gateway on each backend; the experience APIs keep only their
    Idempotency-Key answers, in a SQLite file of their own (as when deployed)."""
    backend = str(request.param)
    p = Platform(launch, database_url, backend, f"experience_{backend}", redis_server.url)
    p.start_gateway()
    for name in ("erp", "qms", "cmms"):
        p.start(name)
    urls = {f"{name}_url": p.services[name].url for name in ("erp", "qms", "cmms")}
    for name in ("technician", "supplier"):
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
