"""The kernel's token checks as pure logic: no servers (keys come from a loader function)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from joserfc.jwk import KeySet

from contracts.kit.auth import (
    AuthError,
    KeyCache,
    TokenVerifier,
    TrustedIssuer,
    check_scopes,
    parse_issuers,
    principal_from_claims,
    route_scopes,
)
from tests.support.tokens import TokenIssuer


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> TokenIssuer:
    return TokenIssuer(Path(tmp_path_factory.mktemp("unit-issuer")), issuer="https://unit.example", kid="u1")


def verifier_for(issuer: TokenIssuer, calls: list[float], min_interval: float = 60.0) -> TokenVerifier:
    async def load() -> KeySet:
        calls.append(time.monotonic())
        return KeySet.import_key_set(issuer.jwks())

    return TokenVerifier(
        [TrustedIssuer(issuer.issuer, KeyCache(load, min_interval=min_interval))], ["plantbridge"]
    )


async def test_verified_tokens_are_cached_and_claims_mapped(issuer: TokenIssuer) -> None:
    calls: list[float] = []
    verifier = verifier_for(issuer, calls)
    token = issuer.mint(["erp:read", "erp:write"], client_id="c-1", supplier_id="SUP-1", site="PLANT-A")
    principal = await verifier.verify(token)
    assert principal.client_id == "c-1"
    assert principal.scopes == {"erp:read", "erp:write"}
    assert (principal.supplier_id, principal.site, principal.person_id) == ("SUP-1", "PLANT-A", None)
    assert await verifier.verify(token) is principal  # second time: the cache, no signature check
    assert len(calls) == 1


async def test_unknown_kids_refetch_at_most_once_per_interval(issuer: TokenIssuer, tmp_path: Path) -> None:
    calls: list[float] = []
    verifier = verifier_for(issuer, calls, min_interval=3600)
    await verifier.verify(issuer.mint(["erp:read"]))
    forger = TokenIssuer(tmp_path, issuer=issuer.issuer, kid="forged")
    for _ in range(25):
        with pytest.raises(AuthError) as refused:
            await verifier.verify(forger.mint(["erp:read"]))
        assert refused.value.status == 401
    assert len(calls) == 1  # still inside the throttle window: no refetch at all


async def test_refused_tokens(issuer: TokenIssuer) -> None:
    verifier = verifier_for(issuer, [])
    now = int(time.time())
    cases = {
        "expired": issuer.sign(issuer.claims(["erp:read"]) | {"exp": now - 120}),
        "not yet valid": issuer.sign(issuer.claims(["erp:read"]) | {"nbf": now + 3600}),
        "no expiry": issuer.sign({k: v for k, v in issuer.claims(["erp:read"]).items() if k != "exp"}),
        "audience": issuer.sign(issuer.claims(["erp:read"], audience=["other"])),
        "issuer": issuer.sign(issuer.claims(["erp:read"]) | {"iss": "https://elsewhere.example"}),
        "garbage": "a.b.c",
    }
    for name, token in cases.items():
        with pytest.raises(AuthError) as refused:
            await verifier.verify(token)
        assert refused.value.status == 401, name


def test_external_provider_claim_shapes() -> None:
    entra = principal_from_claims(
        {"iss": "https://login.example", "exp": 1, "sub": "s", "appid": "app-7", "scp": ["erp:read"]}
    )
    assert (entra.client_id, entra.scopes) == ("app-7", frozenset({"erp:read"}))
    keycloak = principal_from_claims(
        {"iss": "https://kc.example", "exp": 1, "sub": "s", "azp": "mes", "scope": "erp:read qms:read"}
    )
    assert keycloak.client_id == "mes"
    assert keycloak.has("erp:read", "qms:read")


def test_scopes_per_route_and_settings_parsing() -> None:
    assert route_scopes({}, "erp", "GET") == ("erp:read",)
    assert route_scopes({}, "erp", "PATCH") == ("erp:write",)
    assert route_scopes({"scopes": "supplier:portal"}, "supplier", "POST") == ("supplier:portal",)
    principal = principal_from_claims({"iss": "i", "exp": 1, "sub": "s", "scope": "erp:read"})
    with pytest.raises(AuthError) as refused:
        check_scopes(principal, ("erp:write",))
    assert refused.value.status == 403
    assert 'scope="erp:write"' in refused.value.www_authenticate()
    assert parse_issuers("https://gw", "https://gw/jwks", "https://kc/realms/p=https://kc/certs?x=1") == [
        ("https://gw", "https://gw/jwks"),
        ("https://kc/realms/p", "https://kc/certs?x=1"),
    ]
    with pytest.raises(ValueError, match="issuer=jwks_url"):
        parse_issuers("", "", "no-equals-sign")
