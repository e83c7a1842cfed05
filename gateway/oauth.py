"""The token service on Authlib's OAuth2 server parts: client credentials (RFC 6749 §4.4),
introspection (RFC 7662) and authorization-server metadata (RFC 8414).

Authlib's server is synchronous. The async handler looks up the client first, then runs the
grant in a worker thread (the scrypt secret check is deliberately slow and must not stall the
event loop); `query_client` answers from what was looked up.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, unquote

from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    AuthorizationServer,
    ClientMixin,
    InvalidScopeError,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload  # type: ignore[import-untyped]
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # type: ignore[import-untyped]

from contracts.kit.auth import Principal
from gateway.clients import RegisteredClient, verify_secret
from gateway.keys import KeyRing

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
INTROSPECT_SCOPE = "token:introspect"
Response = tuple[int, Any, list[tuple[str, str]]]


class OAuthClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, registered: RegisteredClient) -> None:
        self.registered = registered
        self.authenticated: bool | None = None  # set once Authlib has checked the secret

    def get_client_id(self) -> str:
        return self.registered.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.registered.scopes
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        # The hash first, always: a disabled or unknown client costs the same work as a real one.
        matches = verify_secret(client_secret, self.registered.secret_hash)
        self.authenticated = matches and self.registered.active
        return self.authenticated

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class Grant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        # A client gets at most the scopes it was registered with; asking for more is an error.
        requested = (self.request.payload.scope or "").split()
        allowed = set(self.request.client.registered.scopes)
        if any(s not in allowed for s in requested):
            raise InvalidScopeError(description="The client may not request these scopes.")


class VerifiedToken(TokenMixin):  # type: ignore[misc]
    def __init__(self, principal: Principal, claims: Mapping[str, Any]) -> None:
        self.principal = principal
        self.claims = claims

    def check_client(self, client: OAuthClient) -> bool:
        return bool(client.get_client_id() == self.principal.client_id)

    def get_scope(self) -> str:
        return " ".join(sorted(self.principal.scopes))

    def get_expires_in(self) -> int:
        return max(0, self.principal.expires_at - int(time.time()))

    def is_expired(self) -> bool:
        return self.principal.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return False


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> VerifiedToken | None:
        return _verified.get()

    def check_permission(self, token: VerifiedToken, client: OAuthClient, request: OAuth2Request) -> bool:
        # Resource servers hold token:introspect; any client may introspect its own tokens.
        return INTROSPECT_SCOPE in client.registered.scopes or token.check_client(client)

    def introspect_token(self, token: VerifiedToken) -> dict[str, Any]:
        p = token.principal
        body: dict[str, Any] = {
            "active": True,
            "client_id": p.client_id,
            "scope": token.get_scope(),
            "token_type": "Bearer",
            "exp": p.expires_at,
            "iss": p.issuer,
            "sub": p.subject,
        }
        for name in ("iat", "aud", "jti"):
            if name in token.claims:
                body[name] = token.claims[name]
        for name in ("supplier_id", "person_id", "site"):
            if getattr(p, name):
                body[name] = getattr(p, name)
        return body


class FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, uri: str, headers: Mapping[str, str], form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)  # case-insensitive: Authlib reads "Authorization"
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


_clients: ContextVar[dict[str, OAuthClient]] = ContextVar("gateway_oauth_clients")
_verified: ContextVar[VerifiedToken | None] = ContextVar("gateway_introspected", default=None)


class TokenServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, keys: KeyRing, *, issuer: str, audience: str, ttl: int) -> None:
        super().__init__(scopes_supported=None)
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.register_grant(Grant)
        self.register_endpoint(Introspection)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> OAuthClient | None:
        return _clients.get({}).get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs: nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        return status, body, list(headers)

    def _generate(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        now = int(time.time())
        ttl = expires_in or self.ttl
        claims = {
            "iss": self.issuer,
            "sub": client.get_client_id(),
            "client_id": client.get_client_id(),
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "scope": granted,
            **client.registered.claims(),
        }
        return {
            "token_type": "Bearer",
            "access_token": self.keys.sign(claims),
            "expires_in": ttl,
            "scope": granted,
        }

    def token_response(self, request: FormRequest, client: RegisteredClient | None) -> Authenticated:
        """Blocking (scrypt): run in a worker thread."""
        oauth = self._present(client)
        return self.create_token_response(request), _outcome(oauth)

    def introspection_response(
        self, request: FormRequest, client: RegisteredClient | None, token: VerifiedToken | None
    ) -> Authenticated:
        """Blocking (scrypt): run in a worker thread."""
        oauth = self._present(client)
        _verified.set(token)
        return self.create_endpoint_response("introspection", request), _outcome(oauth)

    @staticmethod
    def _present(client: RegisteredClient | None) -> OAuthClient | None:
        oauth = OAuthClient(client) if client else None
        _clients.set({client.client_id: oauth} if client and oauth else {})
        return oauth


# The endpoint's answer, and whether the caller's secret was right (None: never checked).
Authenticated = tuple[Response, bool | None]


def _outcome(client: OAuthClient | None) -> bool | None:
    return client.authenticated if client is not None else None


def parse_form(body: bytes) -> dict[str, str]:
    # OAuth2 parameters must not repeat (RFC 6749 §3.1); the last value wins when they do.
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def claimed_client_id(headers: Mapping[str, str], form: Mapping[str, str]) -> str | None:
    """The client_id a request says it is, from HTTP Basic or the form, before any check."""
    auth = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(decoded.partition(":")[0]) or None
    return form.get("client_id") or None


def metadata(base_url: str, issuer: str, scopes: list[str]) -> dict[str, Any]:
    doc = AuthorizationServerMetadata(
        issuer=issuer,
        token_endpoint=f"{base_url}/oauth2/token",
        jwks_uri=f"{base_url}/.well-known/jwks.json",
        introspection_endpoint=f"{base_url}/oauth2/introspect",
        grant_types_supported=["client_credentials"],
        token_endpoint_auth_methods_supported=AUTH_METHODS,
        introspection_endpoint_auth_methods_supported=AUTH_METHODS,
        response_types_supported=[],
        scopes_supported=scopes,
        service_documentation=f"{base_url}/.well-known/oauth-authorization-server",
    )
    if issuer.startswith("https://"):
        doc.validate()  # RFC 8414 demands https URLs; a loopback-only platform runs on plain http
    return dict(doc)
