"""The committed HAProxy configuration (deploy/haproxy/haproxy.cfg, compose's `lb`) run for real in
front of two replicas each of the gateway (two workers each), ERP and the quality process, on one
PostgreSQL: traffic reaches every replica, an Idempotency-Key answered by one replica is replayed by
the other, and a replica killed (SIGKILL) costs no request. Debian's haproxy package (.ci/run)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from plantbridge.launcher import register_client
from plantbridge.processes import ChildProcess, ServiceProcess, free_port
from tests.support.fixtures import IN_CI, Launch
from tests.support.platform import DatabaseUrl

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy" / "haproxy.cfg"
BALANCED = ("gateway", "erp", "quality", "maintenance")


class Balancer(ChildProcess):
    """HAProxy on the committed configuration; addresses from its environment variables."""

    def __init__(self, binary: str, env: dict[str, str], log_path: Path) -> None:
        self.name = "haproxy"
        self.binary = binary
        self.env = env
        self.log_path = log_path
        self.process = None
        self.gateway_port = int(env["GATEWAY_LISTEN"].rsplit(":", 1)[1])

    def spawn(self) -> None:
        self._launch([self.binary, "-db", "-f", str(CONFIG)], {**os.environ, **self.env})

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.gateway_port), timeout=0.5):
                return True
        except OSError:
            return False


@dataclass
class Replicated:
    balancer: Balancer
    listen: dict[str, str]  # service -> the balancer's URL for it
    replicas: dict[str, list[ServiceProcess]]
    operator: dict[str, str]  # a gateway token's Authorization header

    def via(self, name: str) -> str:
        return self.listen[name]


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )
    if found is None:
        if IN_CI:  # .ci/run installs it: never let these tests vanish silently there
            raise RuntimeError("haproxy not installed (apt-get install haproxy)")
        pytest.skip("haproxy not installed here (apt-get install haproxy)")
    return found


@pytest.fixture(scope="module")
def replicated(
    launch: Launch, database_url: DatabaseUrl, postgres: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicated]:
    binary = haproxy_binary()
    listen = {name: f"http://127.0.0.1:{free_port()}" for name in BALANCED}
    issuer = listen["gateway"]  # both gateway replicas sign as the one public name
    trust = {
        "auth_issuer": issuer,
        "auth_jwks_url": f"{issuer}/.well-known/jwks.json",
        "auth_token_url": f"{issuer}/oauth2/token",
    }
    gateway_db = database_url("postgres", "lb_gateway")
    erp_db, quality_db = database_url("postgres", "lb_erp"), database_url("postgres", "lb_quality")
    secret = secrets.token_urlsafe(24)
    register_client(
        {"GATEWAY_DATABASE_URL": gateway_db}, "lb-operator", ["erp:read", "erp:write", "quality:read"], secret
    )
    nowhere = f"http://127.0.0.1:{free_port()}"
    replicas = {
        "erp": [launch("erp", database_url=erp_db, **trust) for _ in range(2)],
        "quality": [
            launch(
                "quality",
                database_url=quality_db,
                erp_url=listen["erp"],
                qms_url=nowhere,
                mes_url=nowhere,
                **trust,
            )
            for _ in range(2)
        ],
        "gateway": [
            launch(
                "gateway",
                database_url=gateway_db,
                port=free_port(),
                issuer=issuer,
                upstreams=",".join(f"{n}={url}" for n, url in listen.items() if n != "gateway"),
                workers="2",
            )
            for _ in range(2)
        ],
    }
    env = {f"{name.upper()}_LISTEN": url.removeprefix("http://") for name, url in listen.items()}
    for name, processes in replicas.items():
        env |= {f"{name.upper()}_{n}": f"127.0.0.1:{p.port}" for n, p in enumerate(processes, 1)}
    # No maintenance replicas here: its backend's servers are down, which must not matter.
    env |= {"MAINTENANCE_1": f"127.0.0.1:{free_port()}", "MAINTENANCE_2": f"127.0.0.1:{free_port()}"}
    env["LB_RESOLVER"] = f"127.0.0.1:{free_port()}"  # nothing to resolve: every address is an IP
    balancer = Balancer(binary, env, tmp_path_factory.mktemp("haproxy") / "haproxy.log").start()
    try:
        token = httpx.post(
            f"{issuer}/oauth2/token",
            auth=("lb-operator", secret),
            data={"grant_type": "client_credentials", "scope": "erp:read erp:write quality:read"},
        )
        assert token.status_code == 200, token.text
        operator = {"Authorization": f"Bearer {token.json()['access_token']}"}
        yield Replicated(balancer, listen, replicas, operator)
    finally:
        balancer.stop()
        # `launch` stops what it started only when the session ends: these quality replicas
        # (QMS and MES unreachable) would go on taking events from the shared Redis meanwhile.
        for processes in replicas.values():
            for process in processes:
                process.stop()


def served(replica: ServiceProcess, method: str, route: str) -> float:
    """Requests a replica answered on a route, from its Prometheus counter."""
    text = httpx.get(f"{replica.url}/metrics").text
    needle = f'method="{method}",route="{route}"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if needle in line and line.startswith("plantbridge_http_requests_total")
    )


def test_every_replica_takes_traffic_through_the_balancer(replicated: Replicated) -> None:
    tag = uuid.uuid4().hex
    with httpx.Client(base_url=replicated.via("gateway"), headers=replicated.operator) as http:
        for n in range(20):
            tagged = {"X-Correlation-ID": f"{tag}-{n}"}
            answer = http.get("/erp/v1/items", headers=tagged)
            assert answer.status_code == 200, answer.text
            assert http.get("/quality/v1/flows", headers=tagged).status_code == 200
    for name in ("erp", "quality"):
        route = "/erp/v1/items" if name == "erp" else "/quality/v1/flows"
        assert all(served(r, "GET", route) >= 5 for r in replicated.replicas[name]), name
    # Each gateway replica logged some of the requests (its access log carries the correlation id).
    for gateway in replicated.replicas["gateway"]:
        assert gateway.log_path is not None
        assert tag in gateway.log_path.read_text(), "a gateway replica got no traffic"


def test_each_gateway_replica_runs_the_workers_its_setting_names(replicated: Replicated) -> None:
    for gateway in replicated.replicas["gateway"]:
        children = Path(f"/proc/{gateway.pid}/task/{gateway.pid}/children").read_text().split()
        assert len(children) == 2


def test_an_idempotency_key_answered_by_one_replica_is_replayed_by_the_other(replicated: Replicated) -> None:
    erps = replicated.replicas["erp"]
    before = [served(r, "POST", "/erp/v1/items") for r in erps]
    item = {"item_id": f"RM-LB-{uuid.uuid4().hex[:6].upper()}", "description": "Bar"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with httpx.Client(base_url=replicated.via("erp"), headers=replicated.operator) as http:
        first = http.post("/erp/v1/items", json=item, headers=key)
        again = http.post("/erp/v1/items", json=item, headers=key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    after = [served(r, "POST", "/erp/v1/items") for r in erps]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1]  # one each: round robin
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()


@pytest.mark.parametrize("name", ["erp", "gateway"])
def test_a_replica_killed_costs_no_request(replicated: Replicated, name: str) -> None:
    victim = replicated.replicas[name][0]
    with httpx.Client(base_url=replicated.via("gateway"), headers=replicated.operator) as http:
        assert http.get("/erp/v1/items").status_code == 200
        victim.kill()  # SIGKILL to its process group
        statuses = [http.get("/erp/v1/items").status_code for _ in range(30)]
    victim.start(60)  # back for the next test
    assert statuses == [200] * 30
