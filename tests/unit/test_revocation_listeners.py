"""Listeners of `Revocations` hear each revocation once per new cutoff, including those known
before they registered (a service's lifespan registers after the verifier began following)."""

from __future__ import annotations

import pytest

from contracts.kit.revocation import Revocations

GW = "https://gw.example"


def test_a_listener_hears_what_is_known_then_each_new_or_later_cutoff() -> None:
    revocations = Revocations()
    revocations.learn(f"{GW} early", "100.0")
    heard: list[tuple[str, str, float]] = []
    stop = revocations.on_revoked(lambda *revocation: heard.append(revocation))
    assert heard == [(GW, "early", 100.0)]

    revocations.learn(f"{GW} early", b"100.0")  # the whole list read again on reconnecting
    revocations._message(f"{GW} late 200.5")
    revocations.learn(f"{GW} early", "300.0")  # disabled again, later
    assert heard == [(GW, "early", 100.0), (GW, "late", 200.5), (GW, "early", 300.0)]

    stop()
    revocations.learn(f"{GW} after", "400.0")
    assert len(heard) == 3
    assert revocations.revoked(GW, "after", 399)


def test_a_failing_listener_does_not_stop_the_verifier_learning(caplog: pytest.LogCaptureFixture) -> None:
    revocations = Revocations()
    heard: list[str] = []

    def broken(issuer: str, client_id: str, before: float) -> None:
        raise RuntimeError("listener bug")

    revocations.on_revoked(broken)
    revocations.on_revoked(lambda issuer, client_id, before: heard.append(client_id))
    revocations.learn(f"{GW} gone", "100.0")
    assert revocations.revoked(GW, "gone", 99)
    assert heard == ["gone"]
    assert "listener bug" in caplog.text
