"""GATEWAY_KEY_ALGORITHM changed (RS256 -> ES256) while a key of the old type still signs: tokens
keep being issued, each key signs with its own algorithm, and the ring moves to a key of the new
type at its next check, published ahead of its turn so a verifier that fetched the JWKS then
accepts tokens from both keys."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.kit.auth import KeyCache, KeyLoader, TokenVerifier, TrustedIssuer, jwks_loader
from contracts.kit.db import Database
from contracts.kit.settings import SettingsError, load_settings
from gateway.keys import KeyRing
from gateway.settings import GatewaySettings, SigningAlgorithm
from gateway.store import metadata
from tests.gateway.conftest import CLIENT_ID, CLIENT_SECRET, StartGateway
from tests.support.db import rows
from tests.support.fixtures import BACKENDS, DatabaseUrl, GatewayCli

ISSUER, AUDIENCE = "https://gateway.test", "plantbridge"
AHEAD_SECONDS = 5.0  # the new key is in the JWKS this long before it signs (margin for a busy CI)
WORKERS = 3  # gateway processes noticing the change at once


def header(token: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")))


def claims() -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "c", "client_id": "c", "iat": now, "exp": now + 900}


@pytest.fixture(params=BACKENDS)
async def url(request: pytest.FixtureRequest, database_url: DatabaseUrl) -> str:
    """The gateway's database, with its tables."""
    url = database_url(request.param, f"key_algorithm_{request.param}")
    setup = Database(url)
    async with setup.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await setup.dispose()
    return url


@pytest.fixture
async def make_ring(url: str) -> AsyncIterator[Callable[[SigningAlgorithm], KeyRing]]:
    """`make_ring(algorithm)`: a gateway process's key ring, each on its own connection pool."""
    opened: list[Database] = []

    def make(algorithm: SigningAlgorithm) -> KeyRing:
        settings = GatewaySettings(
            key_algorithm=algorithm, key_publish_ahead_seconds=AHEAD_SECONDS, key_reload_seconds=0.0
        )
        opened.append(Database(url))
        return KeyRing(opened[-1], settings)

    yield make
    for db in opened:
        await db.dispose()


async def service_fetching_now(issuer: str, load: KeyLoader) -> TokenVerifier:
    """A service that fetches the issuer's key set now and not again during the test."""
    keys = KeyCache(load, min_interval=3600, max_age=3600)
    await keys.key_set(None)
    return TokenVerifier([TrustedIssuer(issuer, keys)], [AUDIENCE])


async def test_changing_the_algorithm_keeps_issuing_and_rotates_to_a_key_of_the_new_type(
    make_ring: Callable[[SigningAlgorithm], KeyRing], url: str
) -> None:
    before = make_ring("RS256")
    await before.ensure_fresh()
    old_token = before.sign(claims())
    old_kid = header(old_token)["kid"]

    # The operator sets GATEWAY_KEY_ALGORITHM=ES256 and restarts: every worker checks at once.
    workers = [make_ring("ES256") for _ in range(WORKERS)]
    await asyncio.gather(*(ring.ensure_fresh() for ring in workers))
    stored = await rows(url, "SELECT kid, algorithm FROM gateway_signing_keys")
    assert sorted(a for _, a in stored) == ["ES256", "RS256"], "one new key of the new type, not one each"
    [new_kid] = [kid for kid, algorithm in stored if algorithm == "ES256"]

    # Until the new key's turn the old one signs, with its own algorithm, in every worker.
    for ring in workers:
        token = ring.sign(claims())
        assert (header(token)["alg"], header(token)["kid"]) == ("RS256", old_kid)
    jwks = workers[0].jwks()
    assert {(k["kid"], k["kty"], k.get("alg")) for k in jwks["keys"]} == {
        (old_kid, "RSA", "RS256"),
        (new_kid, "EC", "ES256"),
    }
    service = await service_fetching_now(ISSUER, workers[0].public_keys)  # before the new key signs

    await asyncio.sleep(AHEAD_SECONDS + 0.2)
    for ring in workers:
        await ring.ensure_fresh()
        token = ring.sign(claims())
        assert (header(token)["alg"], header(token)["kid"]) == ("ES256", new_kid)
        assert (await service.verify(token)).client_id == "c"
    assert (await service.verify(old_token)).client_id == "c"
    # The old key stays published until the tokens it signed have expired.
    assert old_kid in {k["kid"] for k in workers[0].jwks()["keys"]}
    assert len(await rows(url, "SELECT kid FROM gateway_signing_keys")) == 2


async def test_a_process_still_on_the_old_setting_does_not_rotate_back(
    make_ring: Callable[[SigningAlgorithm], KeyRing], url: str
) -> None:
    """During a rolling restart the replicas not yet restarted keep the old setting: they sign
    with whichever key signs rather than rotating back, else old and new would take turns making
    keys at every check."""
    old_replica = make_ring("RS256")
    await old_replica.ensure_fresh()
    new_replica = make_ring("ES256")
    await new_replica.ensure_fresh()
    await asyncio.sleep(AHEAD_SECONDS + 0.2)
    for ring in (old_replica, new_replica, old_replica):
        await ring.ensure_fresh(force=True)
        assert header(ring.sign(claims()))["alg"] == "ES256"
    assert len(await rows(url, "SELECT kid FROM gateway_signing_keys")) == 2


def test_an_algorithm_the_gateway_cannot_make_keys_for_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="key_algorithm"):
        load_settings(GatewaySettings, "GATEWAY", env={"GATEWAY_KEY_ALGORITHM": "HS256"})


async def test_a_gateway_restarted_with_another_algorithm_keeps_issuing_tokens(
    start_gateway: StartGateway, gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"
    gateway_cli(url, "register-client", CLIENT_ID, "--scopes", "erp:read", "--secret", CLIENT_SECRET)
    timing = {"key_publish_ahead_seconds": str(AHEAD_SECONDS), "key_reload_seconds": "0.5"}
    gateway = start_gateway(url, **timing)
    async with httpx.AsyncClient(base_url=gateway.url) as http:

        async def mint() -> str:
            answer = await http.post(
                "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
            )
            assert answer.status_code == 200, answer.text
            return str(answer.json()["access_token"])

        old_token = await mint()
        gateway.stop()
        gateway = start_gateway(url, port=gateway.port, key_algorithm="ES256", workers="2", **timing)
        service = await service_fetching_now(gateway.url, jwks_loader(f"{gateway.url}/.well-known/jwks.json"))
        for _ in range(6):  # answered by either worker
            assert header(await mint())["alg"] == "RS256"
        await asyncio.sleep(AHEAD_SECONDS + 1)
        new_token = await mint()
    assert header(new_token)["alg"] == "ES256"
    for token in (old_token, new_token):
        assert (await service.verify(token)).client_id == CLIENT_ID
    stored = await rows(url, "SELECT algorithm FROM gateway_signing_keys")
    assert sorted(a for (a,) in stored) == ["ES256", "RS256"]
