"""Guessing client secrets: failed authentications are throttled per client id and per source
address (429, Retry-After) before any secret is hashed; an unknown client id costs the same work
as a known one; weak secrets are refused at registration."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.gateway.conftest import GatewayCli, StartGateway
from tests.support.fixtures import PlantbridgeCli

pytestmark = pytest.mark.e2e

SECRET = "throttle-test-secret-0123456789"
PER_CLIENT, PER_SOURCE = 10, 30


def from_address(address: str) -> httpx.Client:
    """A client whose requests come from another loopback address (all of 127/8 is local)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def token_request(http: httpx.Client, gateway: str, client_id: str, secret: str) -> httpx.Response:
    return http.post(
        f"{gateway}/oauth2/token", auth=(client_id, secret), data={"grant_type": "client_credentials"}
    )


@pytest.fixture(scope="module")
def gateway(
    start_gateway: StartGateway, gateway_cli: GatewayCli, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    db = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('throttle')}/gateway.db"
    for client_id in ("plant-erp-sync", "timing-known", "other-client"):
        gateway_cli(db, "register-client", client_id, "--scopes", "erp:read", f"--secret={SECRET}")
    process = start_gateway(
        db,
        token_failures_per_client=f"{PER_CLIENT}/300",
        token_failures_per_source=f"{PER_SOURCE}/300",
    )
    return process.url, db


def test_a_flood_of_wrong_secrets_is_throttled_and_the_real_client_keeps_its_tokens(gateway) -> None:
    url, _ = gateway
    with from_address("127.0.0.1") as home:  # where the real client has fetched tokens before
        assert token_request(home, url, "plant-erp-sync", SECRET).status_code == 200
    with from_address("127.0.0.2") as attacker, ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(lambda i: token_request(attacker, url, "plant-erp-sync", f"guess-{i}"), range(300))
        )
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {401, 429}
    # Each 401 cost a secret check; beyond the limit nothing is checked any more.
    assert PER_CLIENT <= statuses.count(401) <= PER_CLIENT + 16  # + what was in flight at once
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:plantbridge:problem:authentication-throttled"
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    # The real client, from the address it has used before, still gets its token; a stranger
    # who happens to hold the right secret, from a new address, waits like the attacker.
    with from_address("127.0.0.1") as home:
        assert token_request(home, url, "plant-erp-sync", SECRET).status_code == 200
    with from_address("127.0.0.3") as stranger:
        assert token_request(stranger, url, "plant-erp-sync", SECRET).status_code == 429


def test_one_address_guessing_many_clients_is_throttled(gateway) -> None:
    url, _ = gateway
    with from_address("127.0.0.5") as scanner:
        statuses = [
            token_request(scanner, url, f"client-{i}", "wrong-secret-0123456789").status_code
            for i in range(PER_SOURCE + 5)
        ]
        assert statuses[:PER_SOURCE] == [401] * PER_SOURCE
        assert statuses[PER_SOURCE:] == [429] * 5
        # Introspection authenticates clients the same way: no guessing there either.
        answer = scanner.post(f"{url}/oauth2/introspect", auth=("other-client", SECRET), data={"token": "x"})
        assert answer.status_code == 429


def test_an_unknown_client_costs_the_same_work_as_a_wrong_secret(gateway) -> None:
    """Timing must not tell which client ids exist: both run the same scrypt."""
    url, _ = gateway

    def seconds(http: httpx.Client, client_id: str) -> float:
        started = time.perf_counter()
        assert token_request(http, url, client_id, "wrong-secret-0123456789").status_code == 401
        return time.perf_counter() - started

    with from_address("127.0.0.6") as http:
        known = statistics.median(seconds(http, "timing-known") for _ in range(4))
    with from_address("127.0.0.7") as http:
        unknown = statistics.median(seconds(http, f"nobody-{i}") for i in range(4))
    # Without the stand-in check an unknown id answers in a small fraction of the scrypt's time.
    assert unknown > 0.5 * known, (unknown, known)


@pytest.mark.parametrize("secret", ["a", "s" * 32, "password1234", "Plant2024!"])
def test_weak_secrets_are_refused_at_registration(
    gateway, plantbridge_cli: PlantbridgeCli, secret: str
) -> None:
    _, db = gateway
    command = ["register-client", "weak-one", "--scopes", "erp:read", f"--secret={secret}"]
    result = plantbridge_cli("gateway", *command, env={"GATEWAY_DATABASE_URL": db})
    assert result.returncode == 2, result.stdout
    assert "at least 20 characters" in result.stderr
