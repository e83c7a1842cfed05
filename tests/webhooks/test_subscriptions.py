"""The subscription API: scopes, the catalogue, ownership, and the SSRF guard."""

from __future__ import annotations

import asyncio

import pytest

from connectors.webhooks.endpoints import EndpointRefused, Guard, parse_networks
from tests.webhooks.conftest import OPERATOR, Webhooks
from tests.webhooks.receiver import Receiver

LOT = "qms.inspection_lot.created.v1"


@pytest.fixture(scope="module")
def service(serve_webhooks) -> Webhooks:
    return serve_webhooks()


@pytest.fixture(scope="module")
def guarded(serve_webhooks) -> Webhooks:
    """As deployed: public https endpoints only."""
    return serve_webhooks(allowed_networks="", allow_http=False)


def test_types_must_be_in_the_catalogue_and_readable(service: Webhooks, receiver: Receiver) -> None:
    url = receiver.url("x")
    with service.api(("webhooks:subscribe", "qms:read")) as api:
        unknown = api.post(
            "/webhooks/v1/subscriptions", json={"url": url, "event_types": ["qms.lot.exploded.v1"]}
        )
        assert unknown.status_code == 422
        assert unknown.json()["type"] == "urn:plantbridge:problem:unknown-event-type"
        unreadable = api.post(
            "/webhooks/v1/subscriptions", json={"url": url, "event_types": ["erp.cost.posted.v1"]}
        )
        assert unreadable.status_code == 403
        assert "erp:read" in unreadable.json()["detail"]
        offered = {t["name"] for t in api.get("/webhooks/v1/event-types").json()["event_types"]}
        assert LOT in offered
        assert not [t for t in offered if not t.startswith("qms.")]
        assert api.get("/webhooks/v1/subscriptions").json()["items"] == []  # nothing was stored
    with service.api(("qms:read",)) as no_scope:
        refused = no_scope.post("/webhooks/v1/subscriptions", json={"url": url, "event_types": [LOT]})
        assert refused.status_code == 403


def test_a_partner_sees_and_changes_only_its_own(service: Webhooks, receiver: Receiver) -> None:
    with service.api(client_id="partner-a") as a, service.api(client_id="partner-b") as b:
        mine = service.subscribe(a, receiver.url("a"), [LOT])
        sub = f"/webhooks/v1/subscriptions/{mine['subscription_id']}"
        assert b.get(sub).status_code == 404
        assert b.patch(sub, json={"description": "mine now"}).status_code == 404
        assert b.delete(sub).status_code == 404
        assert b.post(f"{sub}/rotate-secret").status_code == 404
        assert b.post(f"{sub}/disable").status_code == 404
        assert (
            b.get("/webhooks/v1/messages", params={"subscription_id": mine["subscription_id"]}).status_code
            == 404
        )
        assert mine["subscription_id"] not in {
            s["subscription_id"] for s in b.get("/webhooks/v1/subscriptions").json()["items"]
        }
        assert "secret" not in a.get(sub).json()

        stale = a.patch(sub, json={"description": "x"}, headers={"If-Match": '"99"'})
        assert stale.status_code == 412
        changed = a.patch(
            sub, json={"description": "QMS feed"}, headers={"If-Match": a.get(sub).headers["etag"]}
        )
        assert changed.json()["description"] == "QMS feed"
    with service.api(OPERATOR, client_id="ops") as ops:
        assert ops.get(sub).json()["client_id"] == "partner-a"
        assert ops.post(f"{sub}/disable").json()["status"] == "disabled"
        assert ops.patch(sub, json={"description": "ops"}).status_code == 403  # the endpoint is the owner's
    with service.api(("webhooks:read",), client_id="viewer") as viewer:
        assert viewer.post(f"{sub}/enable").status_code == 403
    with service.api(client_id="partner-a") as a:
        assert a.delete(sub).status_code == 204
        assert a.get(sub).status_code == 404


def test_endpoints_must_be_public_https(guarded: Webhooks) -> None:
    with guarded.api() as api:
        for url in (
            "http://example.com/hooks",  # plain http
            "https://127.0.0.1/hooks",  # loopback
            "https://localhost:8443/hooks",  # a name resolving to loopback
            "https://10.1.2.3/hooks",  # private
            "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
            "https://[::ffff:127.0.0.1]/hooks",  # loopback in IPv6 clothing
            "https://user:pw@example.com/hooks",  # credentials in the URL
        ):
            answer = api.post("/webhooks/v1/subscriptions", json={"url": url, "event_types": [LOT]})
            assert answer.status_code == 422, url
            assert answer.json()["type"] == "urn:plantbridge:problem:endpoint-refused", url
        assert api.get("/webhooks/v1/subscriptions").json()["items"] == []


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("10.0.0.7", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_the_guard_refuses_every_non_public_address(address: str, allowed: bool) -> None:
    guard = Guard()
    if allowed:
        assert asyncio.run(guard.resolve(address, 443)) == address
    else:
        with pytest.raises(EndpointRefused):
            asyncio.run(guard.resolve(address, 443))


def test_an_operator_may_allow_a_network() -> None:
    guard = Guard(parse_networks("10.20.0.0/16"))
    assert asyncio.run(guard.resolve("10.20.3.4", 443)) == "10.20.3.4"
    with pytest.raises(EndpointRefused):
        asyncio.run(guard.resolve("10.21.3.4", 443))
