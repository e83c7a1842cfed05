"""Outbound delivery end to end: stream -> webhooks service -> a receiver verifying with the
reference library, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from contracts.events import qms
from tests.support.wait import eventually
from tests.webhooks.conftest import OPERATOR, Webhooks, sample
from tests.webhooks.receiver import Receiver

LOT_CREATED = "qms.inspection_lot.created.v1"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(request, start_webhooks) -> Webhooks:
    return start_webhooks(str(request.param))


def _lot(n: int = 1) -> qms.InspectionLotCreated:
    return sample(qms.InspectionLotCreated, inspection_lot_id=f"IL-{n}", supplier_id="SUP-A")


def test_a_delivery_verifies_with_the_reference_library_and_carries_the_event(
    service: Webhooks, receiver: Receiver
) -> None:
    with service.api() as api:
        created = service.subscribe(api, receiver.url("plain"), [LOT_CREATED])
    assert created["secret"].startswith("whsec_")
    receiver.endpoint("plain").secrets = [created["secret"]]
    event_id = service.publish(LOT_CREATED, _lot())

    delivery = eventually(lambda: receiver.accepted("plain"), what="a verified delivery")[0]
    assert delivery.webhook_id == event_id
    assert delivery.headers["content-type"] == "application/json"
    assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 30
    payload = delivery.payload
    assert payload["type"] == LOT_CREATED
    assert payload["id"] == event_id
    assert payload["data"]["inspection_lot_id"] == "IL-1"
    assert "timestamp" in payload


def test_a_receiver_down_for_ten_minutes_gets_every_event_exactly_once_by_id(
    service: Webhooks, receiver: Receiver
) -> None:
    with service.api() as api:
        created = service.subscribe(api, receiver.url("outage"), [LOT_CREATED])
    receiver.endpoint("outage").secrets = [created["secret"]]
    receiver.stop()  # down: connections are refused
    try:
        ids = [service.publish(LOT_CREATED, _lot(n)) for n in range(30)]
        with service.api(OPERATOR, client_id="ops") as ops:
            eventually(
                lambda: (
                    len(
                        ops.get(
                            "/webhooks/v1/messages",
                            params={
                                "subscription_id": created["subscription_id"],
                                "status": "pending",
                                "limit": 100,
                            },
                        ).json()["items"]
                    )
                    == 30
                ),
                what="30 messages queued",
            )
        time.sleep(0.6)  # ten minutes at 1000x: the attempts at 0, 5 s and 5 min fail
    finally:
        receiver.start()
    eventually(
        lambda: len(receiver.accepted("outage")) >= 30, timeout=30, what="every event after the outage"
    )
    time.sleep(1.0)  # anything sent twice would have arrived by now
    accepted = [d.webhook_id for d in receiver.accepted("outage")]
    assert sorted(accepted) == sorted(ids)  # every event, each exactly once
    with service.api(OPERATOR, client_id="ops") as ops:

        def messages() -> list[dict]:
            params = {"subscription_id": created["subscription_id"], "limit": 100}
            items: list[dict] = ops.get("/webhooks/v1/messages", params=params).json()["items"]
            return items

        eventually(lambda: {m["status"] for m in messages()} == {"delivered"}, what="every attempt recorded")
        page = {"items": messages()}
        detail = ops.get(f"/webhooks/v1/messages/{page['items'][0]['message_id']}").json()
    log = detail["attempt_log"]
    assert [a["succeeded"] for a in log][-1] is True
    assert not any(a["succeeded"] for a in log[:-1])
    assert len(log) >= 2
    assert log[0]["response_status"] is None
    assert "connect" in log[0]["error"]
    assert log[-1]["response_status"] == 204
    assert log[-1]["latency_ms"] > 0
    assert [a["number"] for a in log] == list(range(1, len(log) + 1))


def test_during_a_rotation_both_secrets_sign(service: Webhooks, receiver: Receiver) -> None:
    with service.api() as api:
        created = service.subscribe(api, receiver.url("rotate"), [LOT_CREATED])
        rotated = api.post(f"/webhooks/v1/subscriptions/{created['subscription_id']}/rotate-secret").json()
    assert rotated["secret"] != created["secret"]
    receiver.endpoint("rotate").secrets = [created["secret"]]  # the receiver has not switched yet
    first = service.publish(LOT_CREATED, _lot())
    eventually(
        lambda: [d for d in receiver.accepted("rotate") if d.webhook_id == first], what="old secret verifies"
    )
    receiver.endpoint("rotate").secrets = [rotated["secret"]]  # switched: the new one verifies too
    second = service.publish(LOT_CREATED, _lot())
    got = eventually(
        lambda: [d for d in receiver.accepted("rotate") if d.webhook_id == second], what="new secret"
    )
    assert len(got[0].headers["webhook-signature"].split(" ")) == 2


def test_a_redirect_is_not_followed_and_gone_disables_the_endpoint(
    service: Webhooks, receiver: Receiver
) -> None:
    with service.api() as api:
        created = service.subscribe(api, receiver.url("moved"), [LOT_CREATED])
        sub_id = created["subscription_id"]
        receiver.endpoint("moved").secrets = [created["secret"]]
        receiver.endpoint("moved").answer = lambda d: (307, {"location": receiver.url("elsewhere")})
        service.publish(LOT_CREATED, _lot())
        eventually(lambda: len(receiver.of("moved")) >= 2, what="two attempts")
        assert receiver.of("elsewhere") == []  # never followed
        messages = api.get("/webhooks/v1/messages", params={"subscription_id": sub_id}).json()["items"]
        detail = api.get(f"/webhooks/v1/messages/{messages[0]['message_id']}").json()
        assert detail["attempt_log"][0]["response_status"] == 307
        assert "not followed" in detail["attempt_log"][0]["error"]

        receiver.endpoint("moved").answer = lambda d: (410, {})
        eventually(lambda: api.get(f"/webhooks/v1/subscriptions/{sub_id}").json()["status"] == "disabled")
        subscription = api.get(f"/webhooks/v1/subscriptions/{sub_id}").json()
        assert "410" in subscription["disabled_reason"]
        assert api.get(f"/webhooks/v1/messages/{messages[0]['message_id']}").json()["status"] == "failed"
        seen = len(receiver.of("moved"))
        service.publish(LOT_CREATED, _lot())
        time.sleep(0.5)
        assert len(receiver.of("moved")) == seen  # disabled: nothing more is sent


def test_an_endpoint_failing_too_long_is_disabled_and_replay_recovers(
    start_webhooks, receiver: Receiver
) -> None:
    service = start_webhooks("sqlite", disable_after_hours=str(1 / 3600))  # one second
    with service.api() as api:
        created = service.subscribe(api, receiver.url("broken"), [LOT_CREATED])
        sub_id = created["subscription_id"]
        receiver.endpoint("broken").secrets = [created["secret"]]
        receiver.endpoint("broken").answer = lambda d: (500, {})
        failed_id = service.publish(LOT_CREATED, _lot())
        eventually(
            lambda: api.get(f"/webhooks/v1/subscriptions/{sub_id}").json()["status"] == "disabled", timeout=20
        )
        subscription = api.get(f"/webhooks/v1/subscriptions/{sub_id}").json()
        assert subscription["disabled_reason"].startswith("no successful delivery since")
        missed_id = service.publish(LOT_CREATED, _lot())  # sent to nobody while disabled
        time.sleep(0.5)
        assert missed_id not in {d.webhook_id for d in receiver.of("broken")}

        receiver.endpoint("broken").answer = lambda d: (200, {})
        assert (
            api.post(
                f"/webhooks/v1/subscriptions/{sub_id}/replay", json={"since": "2020-01-01T00:00:00Z"}
            ).status_code
            == 409
        )
        assert api.post(f"/webhooks/v1/subscriptions/{sub_id}/enable").json()["status"] == "active"
        replayed = api.post(
            f"/webhooks/v1/subscriptions/{sub_id}/replay", json={"since": "2020-01-01T00:00:00Z"}
        ).json()
        assert replayed == {"subscription_id": sub_id, "requeued": 1, "created": 1}
        eventually(lambda: {d.webhook_id for d in receiver.accepted("broken")} == {failed_id, missed_id})

        one = api.get("/webhooks/v1/messages", params={"event_id": failed_id}).json()["items"][0]
        message = f"/webhooks/v1/messages/{one['message_id']}"
        eventually(lambda: api.get(message).json()["status"] == "delivered", what="the replay recorded")
        retried = api.post(f"{message}/retry").json()
        assert retried["status"] == "pending"
        eventually(lambda: len([d for d in receiver.accepted("broken") if d.webhook_id == failed_id]) == 2)

        def triggers() -> list[str]:
            return [a["trigger"] for a in api.get(message).json()["attempt_log"]]

        eventually(lambda: triggers()[-1] == "manual", what="the manual attempt recorded")
        assert triggers()[-2:] == ["replay", "manual"]


def test_a_slow_or_flooding_receiver_is_a_failed_attempt(start_webhooks, receiver: Receiver) -> None:
    service = start_webhooks("sqlite", request_timeout_seconds="0.5", max_response_bytes="2000")
    with service.api() as api:
        created = service.subscribe(api, receiver.url("hostile"), [LOT_CREATED])
        receiver.endpoint("hostile").secrets = [created["secret"]]
        receiver.endpoint("hostile").answer = lambda d: (time.sleep(1.5), (204, {}))[1]
        slow = service.publish(LOT_CREATED, _lot())
        first = eventually(
            lambda: api.get("/webhooks/v1/messages", params={"event_id": slow}).json()["items"]
        )[0]
        eventually(lambda: api.get(f"/webhooks/v1/messages/{first['message_id']}").json()["attempt_log"])
        attempt = api.get(f"/webhooks/v1/messages/{first['message_id']}").json()["attempt_log"][0]
        assert attempt["succeeded"] is False
        assert "no answer within" in attempt["error"]
        assert attempt["latency_ms"] < 1400  # it did not wait for the receiver

        receiver.endpoint("hostile").answer = lambda d: (200, {}, b"x" * 100_000)
        big = service.publish(LOT_CREATED, _lot())
        found = eventually(
            lambda: api.get("/webhooks/v1/messages", params={"event_id": big}).json()["items"]
        )[0]

        def first_attempt() -> dict | None:
            log = api.get(f"/webhooks/v1/messages/{found['message_id']}").json()["attempt_log"]
            return log[0] if log else None

        attempt = eventually(first_attempt)
        assert attempt["succeeded"] is False
        assert "larger than 2000 bytes" in attempt["error"]
