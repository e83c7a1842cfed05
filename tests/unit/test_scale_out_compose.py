"""The scale-out profile of compose.yaml, checked without Docker: two replicas of the gateway, ERP
and both process APIs behind the load balancer (deploy/haproxy/haproxy.cfg), every caller going
through it, every replica on the shared databases. tests/e2e/test_load_balancer.py runs the same
HAProxy configuration for real in front of replicas on loopback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.kit.settings import SettingsError, load_settings
from contracts.topology import SERVICES, by_name
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
HAPROXY = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
REPLICATED = ("gateway", "erp", "quality", "maintenance")
# "${NAME-default}": the config's addresses, with compose's names as defaults.
SETTING = re.compile(r'"\$\{(\w+)-([^}]*)\}"')


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document["services"]


def haproxy_sections() -> dict[str, list[str]]:
    """Each `frontend NAME` / `backend NAME` with the defaults of its bind or server addresses."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in HAPROXY.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] in (["frontend"], ["backend"]):
            current = f"{words[0]} {words[1]}"
            sections[current] = []
        elif current and words[:1] in (["bind"], ["server"]):
            sections[current] += [default for _, default in SETTING.findall(line)]
    return sections


def test_each_replicated_service_has_a_second_replica_in_the_scale_out_profile(
    compose: dict[str, Any],
) -> None:
    for name in REPLICATED:
        first, second = compose[name], compose[f"{name}-2"]
        assert second["profiles"] == ["scale-out"]
        assert second["command"] == first["command"]
        assert second["environment"] == first["environment"]  # the same databases and settings
        assert not second.get("ports")
    singles = {s.name for s in SERVICES} - set(REPLICATED)
    assert not {f"{name}-2" for name in singles} & set(compose)


def test_the_load_balancer_runs_the_committed_config_and_is_the_way_in(compose: dict[str, Any]) -> None:
    lb = compose["lb"]
    assert lb["image"].startswith("haproxy:2.6")  # the version tests/e2e/test_load_balancer.py runs
    assert "./deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]
    assert lb["ports"] == ["8000:8000"]
    assert "profiles" not in lb  # one topology: the profile adds replicas, not the way in
    assert not compose["gateway"].get("ports")


def test_each_backend_is_both_replicas_on_the_services_port() -> None:
    sections = haproxy_sections()
    for name in REPLICATED:
        port = by_name(name).port
        assert sections[f"frontend {name}"] == [f":{port}"]
        assert sections[f"backend {name}"] == [f"{name}:{port}", f"{name}-2:{port}"]


def test_callers_reach_the_replicated_services_through_the_load_balancer(compose: dict[str, Any]) -> None:
    direct = re.compile(rf"http://({'|'.join(REPLICATED)})(-2)?:")
    for container_name, container in compose.items():
        for key, value in (container.get("environment") or {}).items():
            if key.endswith("_AUTH_ISSUER") or key == "GATEWAY_ISSUER":
                assert value == "http://gateway:8000"  # an identity, not an address
                continue
            assert not direct.search(str(value)), f"{container_name}: {key}={value} bypasses the balancer"
            for name in REPLICATED:
                if key.endswith(f"_{name.upper()}_URL"):
                    assert value == f"http://lb:{by_name(name).port}", (container_name, key)
            if key.endswith("_AUTH_JWKS_URL"):
                assert value == "http://lb:8000/.well-known/jwks.json"
            if key.endswith("_AUTH_TOKEN_URL"):
                assert value == "http://lb:8000/oauth2/token"
    upstreams = dict(
        pair.split("=", 1) for pair in compose["gateway"]["environment"]["GATEWAY_UPSTREAMS"].split(",")
    )
    assert upstreams == {name: f"http://lb:{by_name(name).port}" for name in REPLICATED if name != "gateway"}


def test_the_gateways_worker_count_is_a_setting(compose: dict[str, Any]) -> None:
    assert compose["gateway"]["environment"]["GATEWAY_WORKERS"] == "${GATEWAY_WORKERS:-1}"
    assert load_settings(GatewaySettings, "GATEWAY", {"GATEWAY_WORKERS": "4"}).workers == 4
    with pytest.raises(SettingsError, match="workers"):
        load_settings(GatewaySettings, "GATEWAY", {"GATEWAY_WORKERS": "0"})
