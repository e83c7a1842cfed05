"""`plantbridge register-platform-clients`, the compose bootstrap: every calling service's client,
registered with the secret from its variable, gets tokens with its scopes from the gateway."""

from __future__ import annotations

from pathlib import Path

import httpx

from contracts.topology import SERVICES
from tests.gateway.conftest import StartGateway
from tests.support.fixtures import PlantbridgeCli

CALLERS = [s for s in SERVICES if s.client_id]
BOOTSTRAP = "register-platform-clients"


def test_each_platform_client_gets_a_token_with_its_scopes(
    start_gateway: StartGateway, plantbridge_cli: PlantbridgeCli, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"
    secrets = {f"{s.env_prefix}_CLIENT_SECRET": f"{s.name}-secret-0123456789abcdef" for s in CALLERS}
    first = plantbridge_cli(BOOTSTRAP, env={"GATEWAY_DATABASE_URL": database_url, **secrets})
    assert first.returncode == 0, first.stderr
    # A restarted bootstrap (compose runs it on every `up`) changes nothing and does not fail.
    again = plantbridge_cli(BOOTSTRAP, env={"GATEWAY_DATABASE_URL": database_url, **secrets})
    assert again.returncode == 0, again.stderr

    gateway = start_gateway(database_url=database_url)
    for service in CALLERS:
        response = httpx.post(
            f"{gateway.url}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(service.client_id, secrets[f"{service.env_prefix}_CLIENT_SECRET"]),
        )
        assert response.status_code == 200, response.text
        assert set(response.json()["scope"].split()) == set(service.client_scopes)


def test_a_missing_secret_is_named_and_nothing_is_registered(
    plantbridge_cli: PlantbridgeCli, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"
    secrets = {f"{s.env_prefix}_CLIENT_SECRET": "x" * 32 for s in CALLERS[1:]}
    result = plantbridge_cli(BOOTSTRAP, env={"GATEWAY_DATABASE_URL": database_url, **secrets})
    assert result.returncode == 2
    assert f"{CALLERS[0].env_prefix}_CLIENT_SECRET" in result.stderr
    assert not (tmp_path / "gateway.db").exists()
