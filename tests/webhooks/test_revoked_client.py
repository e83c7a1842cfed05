"""A client disabled at the gateway stops receiving webhooks, as its tokens stop working: a real
gateway issues the partners' tokens and revokes one, the webhooks service hears it through its
token verifier, and a receiver verifying with the `standardwebhooks` library gets nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contracts.events import qms
from plantbridge.processes import ServiceProcess, free_port
from tests.support.fixtures import GatewayCli, Launch
from tests.support.wait import eventually
from tests.webhooks.conftest import OPERATOR, Webhooks, sample
from tests.webhooks.receiver import Receiver

LOT = "qms.inspection_lot.created.v1"
SECRET = "revoked-client-secret-0123456789"
SCOPES = "webhooks:subscribe qms:read"


@dataclass
class Partners:
    gateway: ServiceProcess
    webhooks: Webhooks
    database_url: str

    @property
    def issuer(self) -> str:
        return self.gateway.url

    def token(self, client_id: str) -> str:
        answer = httpx.post(
            f"{self.gateway.url}/oauth2/token",
            auth=(client_id, SECRET),
            data={"grant_type": "client_credentials", "scope": SCOPES},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def api(self, token: str) -> httpx.Client:
        """The webhooks API through the gateway, as a partner calls it."""
        return httpx.Client(base_url=self.gateway.url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def partners(
    launch: Launch, start_webhooks, gateway_cli: GatewayCli, tmp_path_factory: pytest.TempPathFactory
) -> Partners:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    jwks = f"{issuer}/.well-known/jwks.json"
    gateway_db = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('revoked-gateway')}/gateway.db"
    for client_id in ("leaving-partner", "staying-partner", "returning-partner", "absent-partner"):
        gateway_cli(gateway_db, "register-client", client_id, "--scopes", SCOPES, f"--secret={SECRET}")
    webhooks = start_webhooks(auth_issuer=issuer, auth_jwks_url=jwks)
    gateway = launch(
        "gateway",
        database_url=gateway_db,
        port=port,
        issuer=issuer,
        auth_issuer=issuer,
        auth_jwks_url=jwks,
        upstreams=f"webhooks={webhooks.process.url}",
        redis_url=webhooks.redis_url,  # one Redis for the platform, as deployed
    )
    return Partners(gateway, webhooks, gateway_db)


def _lot(n: int) -> qms.InspectionLotCreated:
    return sample(qms.InspectionLotCreated, inspection_lot_id=f"IL-R{n}", supplier_id="SUP-A")


def _subscribe(api: httpx.Client, receiver: Receiver, name: str) -> dict[str, Any]:
    answer = api.post("/webhooks/v1/subscriptions", json={"url": receiver.url(name), "event_types": [LOT]})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    receiver.endpoint(name).secrets = [created["secret"]]
    return created


def _working_token(partners: Partners, client_id: str, path: str) -> str | None:
    token = partners.token(client_id)
    with partners.api(token) as api:
        return token if api.get(path).status_code == 200 else None


def test_a_client_disabled_at_the_gateway_gets_no_more_webhooks(
    partners: Partners, gateway_cli: GatewayCli, receiver: Receiver
) -> None:
    service = partners.webhooks
    leaving_token = partners.token("leaving-partner")
    with partners.api(leaving_token) as leaving, partners.api(partners.token("staying-partner")) as staying:
        gone = _subscribe(leaving, receiver, "leaving")
        kept = _subscribe(staying, receiver, "staying")
    first = service.publish(LOT, _lot(1))
    eventually(lambda: len(receiver.accepted("leaving")) == 1 and len(receiver.accepted("staying")) == 1)

    # A second event the leaving partner's endpoint cannot take yet: it waits for a retry.
    receiver.endpoint("leaving").answer = lambda d: (503, {"Retry-After": "60"})
    queued = service.publish(LOT, _lot(2))
    eventually(lambda: len(receiver.of("leaving")) == 2, what="the refused attempt")

    gateway_cli(
        partners.database_url,
        "disable-client",
        "leaving-partner",
        redis_url=service.redis_url,
        issuer=partners.issuer,
    )
    sub = f"/webhooks/v1/subscriptions/{gone['subscription_id']}"
    with service.api(OPERATOR, client_id="ops") as ops:
        shown = eventually(
            lambda: (s := ops.get(sub).json())["status"] == "disabled" and s, what="the subscription disabled"
        )
        assert "leaving-partner was disabled at the gateway" in shown["disabled_reason"]
        assert shown["disabled_at"] is not None
        waiting = ops.get(
            "/webhooks/v1/messages", params={"event_id": queued, "subscription_id": gone["subscription_id"]}
        )
        [message] = waiting.json()["items"]
        assert message["status"] == "failed"  # its retry will not come
        assert "disabled at the gateway" in message["last_error"]
        listed = ops.get("/webhooks/v1/subscriptions", params={"status": "disabled"}).json()["items"]
        assert gone["subscription_id"] in {s["subscription_id"] for s in listed}
        assert ops.get(f"/webhooks/v1/subscriptions/{kept['subscription_id']}").json()["status"] == "active"

    receiver.endpoint("leaving").answer = lambda d: (204, {})
    later = [service.publish(LOT, _lot(n)) for n in (3, 4)]
    eventually(lambda: {d.webhook_id for d in receiver.accepted("staying")} >= {first, queued, *later})
    assert [d.webhook_id for d in receiver.accepted("leaving")] == [first]
    assert len(receiver.of("leaving")) == 2  # the delivery and the refused attempt, nothing since
    with partners.api(leaving_token) as leaving:
        assert leaving.get(sub).status_code == 401  # its old token is revoked too

    # Enabled again at the gateway, the partner gets a new token; its subscription stays disabled
    # until it (or an operator) enables it, and then receives again.
    gateway_cli(partners.database_url, "enable-client", "leaving-partner")
    # Token times are whole seconds: one from the revocation's second is still revoked.
    renewed = eventually(lambda: _working_token(partners, "leaving-partner", sub))
    with partners.api(renewed) as leaving:
        assert leaving.get(sub).json()["status"] == "disabled"
        enabled = leaving.post(f"{sub}/enable")
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["status"] == "active"
    fifth = service.publish(LOT, _lot(5))
    eventually(lambda: fifth in {d.webhook_id for d in receiver.accepted("leaving")})


def test_revocations_are_read_again_at_start_and_an_enabled_subscription_stays_enabled(
    partners: Partners, gateway_cli: GatewayCli, receiver: Receiver
) -> None:
    service = partners.webhooks
    with partners.api(partners.token("returning-partner")) as returning:
        back = _subscribe(returning, receiver, "returning")
    with partners.api(partners.token("absent-partner")) as absent:
        away = _subscribe(absent, receiver, "absent")
    back_path = f"/webhooks/v1/subscriptions/{back['subscription_id']}"
    away_path = f"/webhooks/v1/subscriptions/{away['subscription_id']}"
    revoke = {"redis_url": service.redis_url, "issuer": partners.issuer}
    gateway_cli(partners.database_url, "disable-client", "returning-partner", **revoke)
    with service.api(OPERATOR, client_id="ops") as ops:
        eventually(lambda: ops.get(back_path).json()["status"] == "disabled")
        assert ops.post(f"{back_path}/enable").json()["status"] == "active"  # an operator's choice

    # Down while another client is disabled; on starting, the service reads every revocation.
    service.process.stop()
    gateway_cli(partners.database_url, "disable-client", "absent-partner", **revoke)
    service.process.start()
    with service.api(OPERATOR, client_id="ops") as ops:
        shown = eventually(lambda: (s := ops.get(away_path).json())["status"] == "disabled" and s)
        assert "absent-partner was disabled at the gateway" in shown["disabled_reason"]
        event = service.publish(LOT, _lot(6))
        eventually(lambda: event in {d.webhook_id for d in receiver.accepted("returning")})
        assert ops.get(back_path).json()["status"] == "active"  # the revocation it was enabled after
    assert event not in {d.webhook_id for d in receiver.of("absent")}
