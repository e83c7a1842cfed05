"""The operator surface: the operations monitors and console (through gateway-issued tokens) and
the `plantbridge webhooks` command line, on one webhooks service delivering to a real receiver."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts.events import qms
from plantbridge.processes import RedisServer
from tests.support.fixtures import PlantbridgeCli
from tests.support.http import client
from tests.support.platform import Platform
from tests.support.wait import eventually
from tests.webhooks.conftest import ACCELERATED, Webhooks, sample
from tests.webhooks.receiver import Receiver

LOT = "qms.inspection_lot.created.v1"
OPERATOR_SCOPES = ["operations:read", "webhooks:read", "webhooks:operate"]


@pytest.fixture(scope="module")
def platform(launch, database_url, tmp_path_factory) -> Iterator[Platform]:
    redis = RedisServer(tmp_path_factory.mktemp("operator-redis")).start()  # no other consumer group here
    p = Platform(launch, database_url, "sqlite", "webhooks_operator", redis.url)
    p.start_gateway()
    p.start(
        "webhooks",
        allowed_networks="127.0.0.0/8",
        allow_http="true",
        retry_schedule=ACCELERATED,
        poll_seconds="0.2",
    )
    p.services["operations"] = launch(
        "operations",
        database_url=database_url("sqlite", "webhooks_operator_operations"),
        redis_url=p.redis_url,
        **p.own_client("operations"),
        **p.trust("operations"),
        webhooks_url=p.services["webhooks"].url,
        upstream_timeout_seconds="2",
    )
    yield p
    p.stop()
    redis.stop()


@pytest.fixture(scope="module")
def service(platform: Platform) -> Webhooks:
    return Webhooks(platform.services["webhooks"], platform.redis_url)


def _gone_endpoint(service: Webhooks, receiver: Receiver) -> dict[str, Any]:
    """A subscription whose receiver answered 410 Gone: disabled, its message failed."""
    with service.api(client_id="partner-gone") as api:
        sub = service.subscribe(api, receiver.url("gone"), [LOT])
        receiver.endpoint("gone").secrets = [sub["secret"]]
        receiver.endpoint("gone").answer = lambda d: (410, {})
        service.publish(LOT, sample(qms.InspectionLotCreated, supplier_id="SUP-A"))
        path = f"/webhooks/v1/subscriptions/{sub['subscription_id']}"
        eventually(lambda: api.get(path).json()["status"] == "disabled", what="disabled by 410")
    return sub


def test_the_monitor_and_the_console_show_a_disabled_endpoint_and_retry_its_message(
    platform: Platform, service: Webhooks, receiver: Receiver
) -> None:
    sub = _gone_endpoint(service, receiver)
    operations = platform.services["operations"]
    with client(operations, scopes=["operations:read"], timeout=20) as monitors:
        page = monitors.get("/operations/v1/monitors/webhook-endpoints-disabled").json()
    assert page["complete"] is True
    (offender,) = [o for o in page["items"] if o["record_id"] == sub["subscription_id"]]
    assert "410" in offender["summary"]
    assert offender["details"]["client_id"] == "partner-gone"

    secret = platform.register_client("ops-person", OPERATOR_SCOPES)
    console = f"{operations.url}/operations/console"
    with httpx.Client(timeout=20, follow_redirects=True) as browser:
        login = browser.get(f"{console}/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
        browser.post(
            f"{console}/login", data={"csrf": csrf, "client_id": "ops-person", "client_secret": secret}
        )
        listing = browser.get(f"{console}/webhooks")
        assert listing.status_code == 200
        assert sub["subscription_id"] in listing.text
        endpoint = browser.get(f"{console}/webhooks/endpoints/{sub['subscription_id']}")
        assert "410 Gone" in endpoint.text
        message_id = re.search(r"/webhooks/messages/(MSG-[A-Z0-9]+)", endpoint.text).group(1)
        message = browser.get(f"{console}/webhooks/messages/{message_id}")
        assert "<td>410</td>" in message.text.replace(" ", "")

        receiver.endpoint("gone").answer = lambda d: (204, {})
        form = {
            k: re.search(rf'name="{k}" value="([^"]+)"', endpoint.text).group(1) for k in ("csrf", "once")
        }
        assert (
            browser.post(
                f"{console}/webhooks/endpoints/{sub['subscription_id']}/enable", data=form
            ).status_code
            == 200
        )
        message = browser.get(f"{console}/webhooks/messages/{message_id}")
        form = {k: re.search(rf'name="{k}" value="([^"]+)"', message.text).group(1) for k in ("csrf", "once")}
        retried = browser.post(f"{console}/webhooks/messages/{message_id}/retry", data=form)
        assert retried.status_code == 200
        browser.post(
            f"{console}/webhooks/messages/{message_id}/retry", data=form
        )  # a double click: one retry
    eventually(lambda: receiver.accepted("gone"), what="the retried message")
    with service.api(("webhooks:read",), client_id="ops") as ops:

        def attempts() -> list[dict]:
            found: list[dict] = ops.get(f"/webhooks/v1/messages/{message_id}").json()["attempt_log"]
            return found

        eventually(lambda: len(attempts()) == 2, what="the retried attempt recorded")
        log = attempts()
    assert [(a["trigger"], a["response_status"]) for a in log] == [("scheduled", 410), ("manual", 204)]


def test_the_command_line_lists_shows_retries_and_replays(
    platform: Platform, service: Webhooks, receiver: Receiver, plantbridge_cli: PlantbridgeCli
) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return plantbridge_cli(
            "webhooks", *args, env={"WEBHOOKS_DATABASE_URL": platform.database_url_of("webhooks")}
        )

    sub = _gone_endpoint(service, receiver)
    endpoints = cli("endpoints", "--status", "disabled")
    assert endpoints.returncode == 0, endpoints.stderr
    assert sub["subscription_id"] in endpoints.stdout
    assert "410 Gone" in endpoints.stdout

    listed = json.loads(cli("--json", "messages", "--endpoint", sub["subscription_id"]).stdout)
    (message,) = listed["items"]
    assert message["status"] == "failed"
    shown = cli("show", message["message_id"])
    assert "410" in shown.stdout
    assert "scheduled" in shown.stdout

    refused = cli("retry", message["message_id"])  # the endpoint is disabled
    assert refused.returncode == 1
    assert "enable it first" in refused.stderr
    receiver.endpoint("gone").answer = lambda d: (204, {})
    assert cli("enable", sub["subscription_id"]).returncode == 0
    replayed = json.loads(
        cli("--json", "replay", sub["subscription_id"], "--since", "2020-01-01T00:00:00Z").stdout
    )
    assert replayed["requeued"] == 1
    eventually(lambda: receiver.accepted("gone"), what="the replayed message")
    assert cli("show", "MSG-NOSUCHTHING0").returncode == 1
