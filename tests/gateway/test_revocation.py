"""Disabling a client ends the tokens it already holds, at the gateway and at every service,
within seconds; introspection calls them inactive."""

from __future__ import annotations

import time

import httpx
import pytest

from plantbridge.processes import RedisServer
from tests.gateway.conftest import GatewayCli, Stack

pytestmark = pytest.mark.e2e
SECRET = "revocation-test-secret-0123456789"


def token(stack: Stack, client_id: str) -> str:
    answer = httpx.post(
        f"{stack.gateway.url}/oauth2/token",
        auth=(client_id, SECRET),
        data={"grant_type": "client_credentials", "scope": "erp:read"},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def statuses(stack: Stack, token: str) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {token}"}
    return {
        base: httpx.get(f"{base}/erp/v1/items", headers=headers).status_code
        for base in (stack.gateway.url, stack.erp.url)
    }


def introspect(stack: Stack, token: str) -> dict[str, object]:
    answer = httpx.post(
        f"{stack.gateway.url}/oauth2/introspect", auth=("resource-server", SECRET), data={"token": token}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_disabled_clients_tokens_stop_working_everywhere_within_seconds(
    stack: Stack, gateway_cli: GatewayCli, redis_server: RedisServer
) -> None:
    register = ("register-client", "--scopes")
    gateway_cli(
        stack.database_url,
        register[0],
        "resource-server",
        register[1],
        "token:introspect",
        f"--secret={SECRET}",
    )
    gateway_cli(
        stack.database_url, "register-client", "leaving-partner", "--scopes", "erp:read", f"--secret={SECRET}"
    )
    gateway_cli(
        stack.database_url, "register-client", "staying-partner", "--scopes", "erp:read", f"--secret={SECRET}"
    )
    leaving, staying = token(stack, "leaving-partner"), token(stack, "staying-partner")
    assert set(statuses(stack, leaving).values()) == {200}  # verified and cached everywhere
    assert introspect(stack, leaving)["active"] is True

    gateway_cli(
        stack.database_url,
        "disable-client",
        "leaving-partner",
        redis_url=redis_server.url,
        issuer=stack.issuer,
    )
    deadline = time.monotonic() + 5
    while set(statuses(stack, leaving).values()) != {401} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(statuses(stack, leaving).values()) == {401}, statuses(stack, leaving)
    assert introspect(stack, leaving) == {"active": False}
    assert set(statuses(stack, staying).values()) == {200}  # only that client is affected

    # Enabled again, it gets new tokens that work; the old ones stay revoked.
    gateway_cli(stack.database_url, "enable-client", "leaving-partner")
    time.sleep(1.1)  # token times are whole seconds: a new token must postdate the revocation
    assert set(statuses(stack, token(stack, "leaving-partner")).values()) == {200}
    assert set(statuses(stack, leaving).values()) == {401}, statuses(stack, leaving)
