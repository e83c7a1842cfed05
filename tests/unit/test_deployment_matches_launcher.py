"""compose.yaml, the Dockerfile and the embedded launcher must describe the same platform."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.topology import SERVICES, Service, by_name
from plantbridge.launcher import service_env

ROOT = Path(__file__).resolve().parents[2]
# A service's address: "erp=http://lb:8101" in GATEWAY_UPSTREAMS, or "http://qms:8102" (name, port).
URL = re.compile(r"(?:(\w+)=)?http://[\w-]+:(\d+)")
# jaeger: the optional trace viewer (profile "tracing"); tryton: the optional ERP the ERP API can
# front (profile "tryton"); bootstrap: registers the platform's clients; redis-counters: the
# gateway's rate-limit counters, without persistence; lb: the load balancer in front of the
# replicated services (tests/unit/test_scale_out_compose.py).
INFRASTRUCTURE = {"postgres", "redis", "redis-counters", "jaeger", "tryton", "bootstrap", "lb"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document["services"]


def test_compose_runs_exactly_the_launchers_services(compose: dict[str, Any]) -> None:
    second_replicas = {name for name, c in compose.items() if "scale-out" in c.get("profiles", [])}
    assert set(compose) - INFRASTRUCTURE - second_replicas == {s.name for s in SERVICES}


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_each_container_serves_its_module_on_its_port(compose: dict[str, Any], service: Service) -> None:
    container = compose[service.name]
    assert container["command"] == ["serve", service.name, "--host", "0.0.0.0", "--port", str(service.port)]
    env = container["environment"]
    assert env[f"{service.env_prefix}_REDIS_URL"] == "redis://redis:6379/0"
    # Experience APIs too: their Idempotency-Key answers are shared by their replicas.
    assert env[f"{service.env_prefix}_DATABASE_URL"].endswith(f"@postgres:5432/{service.name}")
    assert f"CREATE DATABASE {service.name};" in (ROOT / "deploy" / "postgres-init.sql").read_text()
    module = importlib.import_module(service.module)
    assert callable(getattr(module, service.factory.split(":")[1]))


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_the_embedded_launcher_gives_each_service_its_own_sqlite_file(
    service: Service, tmp_path: Path
) -> None:
    env = service_env(service, tmp_path, "redis://127.0.0.1:6380/0")
    assert env[f"{service.env_prefix}_REDIS_URL"] == "redis://127.0.0.1:6380/0"
    if service.uses_database:
        assert env[f"{service.env_prefix}_DATABASE_URL"].endswith(f"/{service.name}.db")


@pytest.mark.parametrize("service", [s for s in SERVICES if s.client_id], ids=lambda s: s.name)
def test_each_calling_service_gets_its_client_registered_before_it_starts(
    compose: dict[str, Any], service: Service
) -> None:
    secret = f"{service.env_prefix}_CLIENT_SECRET"
    container = compose[service.name]
    assert container["environment"][f"{service.env_prefix}_CLIENT_ID"] == service.client_id
    # The same variable reaches the service and the bootstrap that registers its client.
    assert container["environment"][secret].startswith(f"${{{secret}:?")
    assert compose["bootstrap"]["environment"][secret] == container["environment"][secret]
    assert container["depends_on"]["bootstrap"] == {"condition": "service_completed_successfully"}


def test_the_bootstrap_registers_into_the_gateways_database(compose: dict[str, Any]) -> None:
    bootstrap = compose["bootstrap"]
    assert bootstrap["command"] == ["register-platform-clients"]
    assert bootstrap["restart"] == "no"
    gateway_db = compose["gateway"]["environment"]["GATEWAY_DATABASE_URL"]
    assert bootstrap["environment"]["GATEWAY_DATABASE_URL"] == gateway_db
    assert compose["gateway"]["environment"]["GATEWAY_KEY_ENCRYPTION_KEY"].startswith(
        "${GATEWAY_KEY_ENCRYPTION_KEY:?"
    )  # signing keys are sealed in a containerised gateway's database
    # The gateway starts after the bootstrap, which has migrated its database by then.
    assert compose["gateway"]["depends_on"]["bootstrap"] == {"condition": "service_completed_successfully"}


def test_only_the_gateway_and_the_console_are_published(compose: dict[str, Any]) -> None:
    # Everything else is reached through the gateway (published by the load balancer in front of its
    # replicas), so nobody skips its limits or its header filtering; the tracing UI and Tryton
    # (optional profiles) listen on the host's loopback only.
    published = {name: c["ports"] for name, c in compose.items() if c.get("ports")}
    assert published == {
        "lb": ["8000:8000"],
        "operations": ["8303:8303"],
        "jaeger": ["127.0.0.1:16686:16686"],
        "tryton": ["127.0.0.1:8010:8000"],
    }


def test_the_image_contains_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in (
        *("contracts", "system_apis", "process_apis", "experience_apis"),
        *("gateway", "connectors", "plantbridge"),
    ):
        assert f"COPY {package} ./{package}" in dockerfile


def test_every_service_address_in_compose_is_on_that_services_port(compose: dict[str, Any]) -> None:
    """`<PREFIX>_<SERVICE>_URL` and GATEWAY_UPSTREAMS, whether direct or through the load balancer."""
    names = {s.name for s in SERVICES}
    addresses = URL.findall(compose["gateway"]["environment"]["GATEWAY_UPSTREAMS"])
    assert {name for name, _ in addresses} <= names
    for container in compose.values():
        for key, value in (container.get("environment") or {}).items():
            name = key.split("_", 1)[-1].removesuffix("_URL").lower()
            if key.endswith("_URL") and name in names:
                addresses += [(name, port) for _, port in URL.findall(value)]
    assert len(addresses) > 30
    for name, port in addresses:
        assert int(port) == by_name(name).port, (name, port)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_each_container_is_given_every_service_address_its_settings_read(
    compose: dict[str, Any], service: Service
) -> None:
    """Without one, a container would call its default, a loopback address nothing listens on."""
    settings = importlib.import_module(service.module.rsplit(".", 1)[0] + ".settings")
    [struct] = [v for v in vars(settings).values() if getattr(v, "__module__", "") == settings.__name__]
    names = {s.name for s in SERVICES}
    wanted = {
        f"{service.env_prefix}_{field.upper()}"
        for field in struct.__struct_fields__
        if field.endswith("_url") and field.removesuffix("_url") in names
    }
    assert wanted <= set(compose[service.name]["environment"])
