"""The gateway with its Redis unreachable: every endpoint answers (a 503 problem where it needs
Redis, never a 500), and with the default fail-open setting the limits still hold per process."""

from __future__ import annotations

import httpx
import pytest

from plantbridge.processes import free_port
from tests.gateway.conftest import GatewayCli, StartGateway
from tests.support.http import auth_headers

pytestmark = pytest.mark.e2e
SECRET = "redis-down-secret-0123456789"
QUOTA = 5


@pytest.fixture(scope="module")
def no_redis(launch, start_gateway: StartGateway, gateway_cli: GatewayCli, database_url, tmp_path_factory):
    def start(fail_open: str):  # type: ignore[no-untyped-def]
        db = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('noredis')}/gateway.db"
        gateway_cli(
            db,
            "register-client",
            "ops",
            "--scopes",
            "erp:read gateway:read metrics:read",
            f"--secret={SECRET}",
        )
        dead = f"redis://127.0.0.1:{free_port()}/0"
        return start_gateway(
            db,
            upstreams=f"erp={erp.url}",
            redis_url=dead,
            rate_limit_redis_url=dead,
            rate_limit_fail_open=fail_open,
            rate_limits=f"erp={QUOTA}/60",
        )

    erp = launch("erp", database_url=database_url("sqlite", "gateway_noredis_erp"))
    return start("true"), start("false")


def every_endpoint(url: str, token: dict[str, str]) -> dict[str, httpx.Response]:
    body = {"grant_type": "client_credentials"}
    return {
        "token": httpx.post(f"{url}/oauth2/token", data=body, auth=("ops", SECRET)),
        "introspect": httpx.post(f"{url}/oauth2/introspect", data={"token": "x"}, auth=("ops", SECRET)),
        "jwks": httpx.get(f"{url}/.well-known/jwks.json"),
        "metadata": httpx.get(f"{url}/.well-known/oauth-authorization-server"),
        "routes": httpx.get(f"{url}/gateway/routes", headers=token),
        "deprecated-calls": httpx.get(f"{url}/gateway/deprecated-calls", headers=token),
        "metrics": httpx.get(f"{url}/metrics", headers=token),
        "live": httpx.get(f"{url}/health/live"),
        "ready": httpx.get(f"{url}/health/ready"),
        "proxied": httpx.get(f"{url}/erp/v1/items", headers=token),
    }


@pytest.mark.parametrize("mode", ["fail-open", "fail-closed"])
def test_no_endpoint_answers_500_without_redis(no_redis, mode: str) -> None:
    gateway = no_redis[0] if mode == "fail-open" else no_redis[1]
    token = auth_headers(["erp:read", "gateway:read", "metrics:read"], client_id=f"ops-{mode}")
    answers = every_endpoint(gateway.url, token)
    assert {name for name, r in answers.items() if r.status_code >= 500 and r.status_code != 503} == set()
    for name, answer in answers.items():
        if answer.status_code == 503:
            assert answer.headers["content-type"] == "application/problem+json", name
    # What needs Redis says so; what does not, works.
    assert answers["deprecated-calls"].status_code == 503
    assert answers["deprecated-calls"].json()["type"] == "urn:plantbridge:problem:dependency-unavailable"
    assert answers["ready"].status_code == 503
    for name in ("jwks", "metadata", "routes", "metrics", "live"):
        assert answers[name].status_code == 200, name
    expected = 200 if mode == "fail-open" else 503
    for name in ("token", "proxied"):
        assert answers[name].status_code == expected, (name, answers[name].text)


def test_fail_open_still_holds_the_limit_in_each_process(no_redis) -> None:
    gateway, _ = no_redis
    headers = auth_headers(["erp:read"], client_id="burst-without-redis")
    statuses = [
        httpx.get(f"{gateway.url}/erp/v1/items", headers=headers).status_code for _ in range(3 * QUOTA)
    ]
    assert statuses == [200] * QUOTA + [429] * (2 * QUOTA)
