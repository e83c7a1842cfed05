"""The topology (contracts/topology.py) against what the services really serve: the committed OpenAPI
documents, built from the running apps and checked by `plantbridge contracts check`, say which API
versions exist and which scopes each one checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.topology import SERVICES, Service, by_name
from plantbridge.governance.documents import OPENAPI_DIR, file_name

ROUTED = [s for s in SERVICES if s.api is not None]


def documented_scopes(path: Path) -> set[str]:
    schemes = json.loads(path.read_text()).get("components", {}).get("securitySchemes", {})
    return {
        scope
        for scheme in schemes.values()
        for f in scheme.get("flows", {}).values()
        for scope in f["scopes"]
    }


def test_every_committed_document_is_an_api_version_of_the_topology() -> None:
    declared = {file_name(s.name, major) for s in ROUTED for major in s.api.majors}  # type: ignore[union-attr]
    assert {p.name for p in OPENAPI_DIR.glob("*.json")} == declared


@pytest.mark.parametrize("service", ROUTED, ids=lambda s: s.name)
def test_each_api_checks_exactly_the_scopes_the_topology_declares(service: Service) -> None:
    """A route that starts checking a new scope, or a scope no route checks any more, fails here
    until the topology says so (and with it the gateway's scopes_supported and operator client)."""
    assert service.api is not None
    for major in service.api.majors:
        path = OPENAPI_DIR / file_name(service.name, major)
        assert documented_scopes(path) == set(service.checked_scopes), path.name


def test_clients_are_given_only_scopes_some_api_checks() -> None:
    checked = {scope for s in SERVICES for scope in s.checked_scopes}
    for service in SERVICES:
        assert set(service.client_scopes) <= checked, service.name
        assert bool(service.client_id) == bool(service.client_scopes), service.name


def test_names_ports_prefixes_and_clients_are_unique() -> None:
    for field in ("name", "port", "env_prefix"):
        values = [getattr(s, field) for s in SERVICES]
        assert len(values) == len(set(values)), field
    clients = [s.client_id for s in SERVICES if s.client_id]
    assert len(clients) == len(set(clients))


def test_an_unknown_service_is_named_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown service 'nope'.*erp"):
        by_name("nope")
