"""OAuth2 end to end: a real OAuth2 client gets a token from the gateway and calls ERP through it;
every kind of bad token is refused with a problem, at the gateway and directly at ERP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from pathlib import Path

import authlib.deprecate
import httpx
import pytest

from tests.gateway.conftest import CLIENT_ID, CLIENT_SECRET, SUPPLIER_CLIENT, GatewayCli, Stack
from tests.support.http import client
from tests.support.tokens import TokenIssuer, test_issuer
from tests.support.wait import eventually

with warnings.catch_warnings():  # Authlib nudges towards httpx2; httpx is what we ship
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client


def kid_of(token: str) -> str:
    kid: str = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    return kid


def oauth_client(stack: Stack, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET, scope: str = ""):
    return OAuth2Client(
        client_id, secret, scope=scope or None, token_endpoint=f"{stack.gateway.url}/oauth2/token"
    )


def gateway_token(stack: Stack, scope: str = "erp:read erp:write", client_id: str = CLIENT_ID) -> str:
    with oauth_client(stack, client_id, CLIENT_SECRET, scope) as oauth:
        return str(oauth.fetch_token()["access_token"])


def test_oauth2_client_gets_a_token_and_calls_erp_through_the_gateway(stack: Stack) -> None:
    with oauth_client(stack, scope="erp:read erp:write") as oauth:
        token = oauth.fetch_token()
        assert token["token_type"].lower() == "bearer"
        assert token["scope"] == "erp:read erp:write"
        created = oauth.post(
            f"{stack.gateway.url}/erp/v1/items", json={"item_id": "GW-ITEM-1", "description": "x"}
        )
        assert created.status_code == 201, created.text
        read = oauth.get(f"{stack.gateway.url}/erp/v1/items/GW-ITEM-1")
        assert read.status_code == 200
        assert read.json()["item_id"] == "GW-ITEM-1"
        assert read.headers["RateLimit-Policy"].startswith('"erp";q=')
        # The same token works directly at ERP: ERP checks it itself against the gateway's JWKS.
        direct = httpx.get(
            f"{stack.erp.url}/erp/v1/items/GW-ITEM-1",
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert direct.status_code == 200


def test_token_endpoint_follows_rfc6749(stack: Stack) -> None:
    url = f"{stack.gateway.url}/oauth2/token"
    wrong = httpx.post(url, auth=(CLIENT_ID, "not-the-secret"), data={"grant_type": "client_credentials"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    unknown = httpx.post(url, auth=("nobody", "x"), data={"grant_type": "client_credentials"})
    assert unknown.status_code == 401
    too_much = httpx.post(
        url,
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials", "scope": "erp:write qms:write"},
    )
    assert too_much.status_code == 400
    assert too_much.json()["error"] == "invalid_scope"
    grant = httpx.post(url, auth=(CLIENT_ID, CLIENT_SECRET), data={"grant_type": "password"})
    assert grant.status_code == 400
    assert grant.json()["error"] in ("unsupported_grant_type", "unauthorized_client")
    post_auth = httpx.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": "erp:read",
        },
    )
    assert post_auth.status_code == 200
    assert post_auth.headers["Cache-Control"] == "no-store"


def test_supplier_tokens_carry_the_supplier_id(stack: Stack) -> None:
    with oauth_client(stack, *SUPPLIER_CLIENT) as oauth:
        token = oauth.fetch_token()["access_token"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["supplier_id"] == "SUP-ACME"
    assert set(claims["scope"].split()) == {"supplier:portal", "erp:read"}
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"]


def test_metadata_jwks_and_introspection(stack: Stack) -> None:
    meta = httpx.get(f"{stack.gateway.url}/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == stack.issuer
    assert meta["token_endpoint"] == f"{stack.issuer}/oauth2/token"
    assert meta["jwks_uri"] == f"{stack.issuer}/.well-known/jwks.json"
    assert meta["introspection_endpoint"] == f"{stack.issuer}/oauth2/introspect"
    assert "client_credentials" in meta["grant_types_supported"]
    keys = httpx.get(meta["jwks_uri"]).json()["keys"]
    assert keys
    assert all(k["kid"] and "d" not in k for k in keys)  # public halves only

    token = gateway_token(stack, "erp:read")
    url = meta["introspection_endpoint"]
    active = httpx.post(url, auth=(CLIENT_ID, CLIENT_SECRET), data={"token": token}).json()
    assert active["active"] is True
    assert active["client_id"] == CLIENT_ID
    assert active["scope"] == "erp:read"
    assert active["exp"] > time.time()
    inactive = httpx.post(url, auth=(CLIENT_ID, CLIENT_SECRET), data={"token": "garbage"}).json()
    assert inactive == {"active": False}
    anonymous = httpx.post(url, data={"token": token})
    assert anonymous.status_code == 401


# --- refusals: each bad token, at the gateway and directly at ERP -------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256(claims: dict, kid: str, secret: bytes) -> str:
    """The classic algorithm-confusion forgery (joserfc itself refuses to make it)."""
    signing_input = f"{_b64({'alg': 'HS256', 'kid': kid})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def bad_tokens(stack: Stack) -> dict[str, tuple[str, int]]:
    issuer = test_issuer()
    good = issuer.claims(["erp:read", "erp:write"])
    stranger = TokenIssuer(Path(issuer.directory.parent / "stranger"), issuer="https://stranger.example")
    valid = issuer.sign(good)
    head, body, signature = valid.split(".")
    escalated = _b64({**good, "scope": "erp:read erp:write qms:write", "client_id": "someone-else"})
    public_pem = issuer.key.as_pem(private=False)
    return {
        "expired": (
            issuer.sign({**good, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}),
            401,
        ),
        "untrusted issuer": (stranger.mint(["erp:read", "erp:write"]), 401),
        "trusted iss, foreign key": (stranger.sign({**good, "iss": issuer.issuer}), 401),
        "wrong audience": (issuer.sign({**good, "aud": "some-other-api"}), 401),
        "tampered payload": (f"{head}.{escalated}.{signature}", 401),
        "tampered signature": (f"{head}.{body}.{signature[:-6]}AAAAAA", 401),
        "alg none": (f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{body}.", 401),
        "HS256 with the public key as secret": (_hs256(good, issuer.key.kid, public_pem), 401),
        "not a JWT": ("not-a-token", 401),
        "missing scope": (issuer.mint(["erp:read"]), 403),
    }


@pytest.mark.parametrize("target", ["gateway", "erp"])
def test_bad_tokens_are_refused_with_problems(stack: Stack, target: str) -> None:
    base = stack.gateway.url if target == "gateway" else stack.erp.url
    body = {"item_id": "NEVER-CREATED", "description": "must not exist"}
    failures = []
    for name, (token, status) in bad_tokens(stack).items():
        response = httpx.post(f"{base}/erp/v1/items", json=body, headers={"Authorization": f"Bearer {token}"})
        problem = (
            response.json() if response.headers.get("content-type") == "application/problem+json" else {}
        )
        if response.status_code != status or problem.get("status") != status:
            failures.append(f"{name}: {response.status_code} {response.text[:200]}")
        elif "Bearer" not in response.headers.get("WWW-Authenticate", ""):
            failures.append(f"{name}: no WWW-Authenticate")
    missing = httpx.post(f"{base}/erp/v1/items", json=body)
    assert missing.status_code == 401
    assert missing.json()["type"] == "urn:plantbridge:problem:unauthenticated"
    assert not failures, "\n".join(failures)
    with client(stack.erp, scopes=["erp:read"]) as erp:
        assert erp.get("/erp/v1/items/NEVER-CREATED").status_code == 404  # nothing changed


def test_gateway_refuses_missing_scope_before_the_upstream(stack: Stack) -> None:
    reader = gateway_token(stack, "erp:read", client_id="erp-reader")
    response = httpx.post(
        f"{stack.gateway.url}/erp/v1/items",
        json={"item_id": "R-1", "description": "x"},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert response.status_code == 403
    assert response.json()["type"] == "urn:plantbridge:problem:insufficient-scope"
    assert 'scope="erp:write"' in response.headers["WWW-Authenticate"]


def test_rotated_keys_keep_old_tokens_valid_and_new_ones_verify_everywhere(
    stack: Stack, gateway_cli: GatewayCli
) -> None:
    old = gateway_token(stack, "erp:read")
    old_kid = kid_of(old)
    # Published now, signing 2 s from now (test_key_rotation.py covers the lockout this prevents).
    new_kid = json.loads(gateway_cli(stack.database_url, "rotate-key", key_publish_ahead_seconds="2"))["kid"]
    assert new_kid != old_kid

    def signed_with_the_new_key() -> str | None:  # the gateway notices on its next key reload
        token = gateway_token(stack, "erp:read")
        return token if kid_of(token) == new_kid else None

    new = eventually(signed_with_the_new_key, what="a token signed with the rotated key")
    kids = {k["kid"] for k in httpx.get(f"{stack.gateway.url}/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= kids  # the old key stays published until its tokens expire
    for token in (old, new):
        for base in (stack.gateway.url, stack.erp.url):  # ERP refetches the JWKS on the unknown kid
            response = httpx.get(f"{base}/erp/v1/items", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, (base, response.text)
