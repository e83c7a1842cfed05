"""The gateway tells API owners who still calls a deprecated version: QMS v1 answers with
`Deprecation`, the gateway counts those calls per client (v2 calls are not counted)."""

from __future__ import annotations

import httpx

from plantbridge.processes import free_port
from tests.gateway.conftest import GatewayCli, StartGateway
from tests.support.fixtures import Launch

SECRET = "deprecation-test-secret-0123456789"


def token(gateway: str, client_id: str, scope: str) -> dict[str, str]:
    answer = httpx.post(
        f"{gateway}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, SECRET),
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_calls_to_a_deprecated_version_are_counted_per_client(
    launch: Launch, start_gateway: StartGateway, gateway_cli: GatewayCli, database_url, tmp_path_factory
) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    gw_db = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('gw-deprecations')}/gateway.db"
    for client_id, scopes in (
        ("old-partner", "qms:read"),
        ("new-partner", "qms:read"),
        ("owner", "gateway:read metrics:read"),
    ):
        gateway_cli(gw_db, "register-client", client_id, "--scopes", scopes, "--secret", SECRET)
    qms = launch(
        "qms",
        database_url=database_url("sqlite", "gateway_deprecations_qms"),
        auth_issuer=issuer,
        auth_jwks_url=f"{issuer}/.well-known/jwks.json",
    )
    gateway = start_gateway(gw_db, port=port, upstreams=f"qms={qms.url}").url

    old, new = token(gateway, "old-partner", "qms:read"), token(gateway, "new-partner", "qms:read")
    for _ in range(3):
        answer = httpx.get(f"{gateway}/qms/v1/inspection-lots", headers=old)
        assert answer.status_code == 200
        assert "deprecation" in answer.headers
    for _ in range(2):
        answer = httpx.get(f"{gateway}/qms/v2/inspection-lots", headers=new)
        assert answer.status_code == 200
        assert "deprecation" not in answer.headers

    owner = token(gateway, "owner", "gateway:read metrics:read")
    report = httpx.get(f"{gateway}/gateway/deprecated-calls", headers=owner)
    assert report.status_code == 200
    # Other tests' gateways count in the same Redis: this test's own clients are what it checks.
    mine = [i for i in report.json()["items"] if i["client_id"] in ("old-partner", "new-partner")]
    assert [(i["api"], i["client_id"], i["calls"]) for i in mine] == [("/qms/v1", "old-partner", 3)]
    assert httpx.get(f"{gateway}/gateway/deprecated-calls", headers=old).status_code == 403
    metrics = httpx.get(f"{gateway}/metrics", headers=owner).text
    assert 'plantbridge_gateway_deprecated_calls_total{api="/qms/v1",client="old-partner"} 3.0' in metrics
