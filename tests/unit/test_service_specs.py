"""Each service's `ServiceSpec` states only what is its own; the rest comes from its topology entry
(contracts/topology.py) and one convention for migrations. These say the derived facts are the
ones the platform depends on: the gateway routes to the paths the app serves, and the app finds
the revisions of its own tables."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from contracts.kit.app import ServiceSpec
from contracts.topology import SERVICES, Service

APPS = [s for s in SERVICES if s.api is not None]  # every one but the gateway, which has no spec


def spec_of(service: Service) -> ServiceSpec:
    spec = importlib.import_module(service.module).SPEC
    assert isinstance(spec, ServiceSpec)
    return spec


@pytest.mark.parametrize("service", APPS, ids=lambda s: s.name)
def test_the_app_serves_every_major_the_gateway_routes_to_it(service: Service) -> None:
    spec = spec_of(service)
    assert spec.service == service
    assert service.api is not None
    served = [spec.api_path, *(version.api_path for version in spec.versions)]
    assert served == [service.api_path(major) for major in service.api.majors]


@pytest.mark.parametrize("service", APPS, ids=lambda s: s.name)
def test_the_app_finds_the_revisions_beside_it(service: Service) -> None:
    """A service whose folder is missing would migrate the kernel's tables only, and say nothing."""
    versions_dir = spec_of(service).versions_dir
    app_file = Path(importlib.import_module(service.module).__file__ or "")
    assert versions_dir == app_file.parent / "migrations" / "versions"
    assert sorted(versions_dir.glob("*.py")), versions_dir
