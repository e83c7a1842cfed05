"""contracts/clients/outbound.py `Caller`: a calling service's settings, client and upstream
addresses come from its topology entry and its own settings, not from each app's wiring."""

from __future__ import annotations

import pytest

from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.outbound import Caller, Outbound
from contracts.clients.tokens import ClientCredentials
from contracts.kit.http1 import Pool
from contracts.topology import by_name
from experience_apis.technician.settings import TechnicianSettings
from process_apis.quality.settings import QualitySettings


def test_settings_come_from_its_prefix_and_overrides_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TECHNICIAN_ERP_URL", "http://erp.plant:9000")
    monkeypatch.setenv("TECHNICIAN_HISTORY_LIMIT", "9")
    caller = Caller.of("technician", TechnicianSettings, None, None, {"history_limit": 3})
    assert caller.settings.erp_url == "http://erp.plant:9000"
    assert caller.settings.history_limit == 3


def test_without_an_outbound_port_it_asks_the_gateway_for_its_own_clients_scopes() -> None:
    settings = TechnicianSettings(client_secret="s")
    caller = Caller.of("technician", TechnicianSettings, settings, None, {})
    token = caller.outbound.token
    assert caller.settings is settings
    assert isinstance(token, ClientCredentials)
    assert (token.client_id, token.token_url) == (by_name("technician").client_id, settings.auth_token_url)
    assert token.scope.split() == list(by_name("technician").client_scopes)


async def test_a_client_calls_the_upstreams_address_with_the_upstream_timeout() -> None:
    settings = TechnicianSettings(erp_url="http://erp.plant:9000", upstream_timeout_seconds=2.5)
    caller = Caller.of("technician", TechnicianSettings, settings, Outbound(), {})
    erp = caller.client(ErpClient, attempts=1)
    try:
        assert erp.base_url == "http://erp.plant:9000"
        assert erp.attempts == 1
        assert isinstance(erp.transport, Pool)
        assert erp.transport.timeout == 2.5
    finally:
        await erp.aclose()


def test_a_client_of_an_upstream_the_settings_do_not_name_is_refused() -> None:
    caller = Caller.of("quality", QualitySettings, QualitySettings(), Outbound(), {})
    with pytest.raises(TypeError, match="cmms_url"):
        caller.client(CmmsClient)
