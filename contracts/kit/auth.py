"""Bearer-token checks every service runs itself, so nobody gains by going around the gateway.

A token is a JWT signed with an asymmetric key by a trusted issuer (the gateway, or an external
identity provider configured by its JWKS URL). Checked: the `alg` allow-list (never `none`, never
HS*), the signature against the issuer's published keys (refetched on an unknown `kid`,
throttled), `exp`/`nbf`, `iss` and `aud`. A verified token is cached until it expires, so the
signature is checked once per token, not once per request; revocation (contracts/kit/revocation.py)
is checked on every request, cached or not.

Scopes are declared per route: by default `<service>:read` for safe methods and
`<service>:write` for the rest; a handler overrides it with `opt={"scopes": ("supplier:portal",)}`
(all needed), or with `opt={"any_scope": ("webhooks:subscribe", "webhooks:read")}` (one of them
suffices: the handler then decides what the one held lets the caller see).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx
import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Receive, Scope, Send

from contracts.kit.problems import problem_bytes
from contracts.kit.revocation import Revocations

log = logging.getLogger("plantbridge.auth")

PRINCIPAL_KEY = "pb.principal"  # the idempotency middleware scopes its keys by principal.client_id
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Asymmetric only: HS* would let anyone holding the verification secret mint tokens, `none` anyone.
ALLOWED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
BEARER_SCHEME = "oauth2"
SIGNATURE_SCHEME = "signature"  # routes that authenticate each request by its signature


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the verified claims a service may act on."""

    client_id: str
    subject: str
    issuer: str
    scopes: frozenset[str]
    expires_at: int
    supplier_id: str | None = None
    person_id: str | None = None
    site: str | None = None
    issued_at: int = 0  # `iat`; without it, a revocation of the client covers the token

    def has(self, *scopes: str) -> bool:
        return self.scopes.issuperset(scopes)


class AuthError(Exception):
    """401 (no valid token) or 403 (valid token, missing scope)."""

    def __init__(self, status: int, detail: str, *, error: str = "invalid_token", scope: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error = error
        self.scope = scope

    @property
    def slug(self) -> str:
        return "unauthenticated" if self.status == 401 else "insufficient-scope"

    @property
    def title(self) -> str:
        return "Authentication required" if self.status == 401 else "Insufficient scope"

    def www_authenticate(self) -> str:
        # RFC 6750 §3: tell the client why, without echoing anything it sent.
        value = f'Bearer realm="plantbridge", error="{self.error}"'
        if self.scope:
            value += f', scope="{self.scope}"'
        return value

    def body(self) -> bytes:
        return problem_bytes(self.status, self.slug, self.title, self.detail)

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", b"application/problem+json"),
            (b"www-authenticate", self.www_authenticate().encode()),
        ]


def unauthenticated(detail: str) -> AuthError:
    return AuthError(401, detail)


KeyLoader = Callable[[], Awaitable[KeySet]]


class KeyCache:
    """An issuer's published keys; reloaded when a token names an unknown `kid` (at most once
    per `min_interval`, so a flood of forged kids cannot hammer the issuer) and when old."""

    def __init__(self, loader: KeyLoader, *, min_interval: float = 30.0, max_age: float = 300.0) -> None:
        self._loader = loader
        self._min_interval = min_interval
        self._max_age = max_age
        self._keys = KeySet([])
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def _kids(self) -> set[str]:
        return {k.kid for k in self._keys.keys if k.kid}

    async def key_set(self, kid: str | None) -> KeySet:
        age = time.monotonic() - self._loaded_at
        unknown = kid is not None and kid not in self._kids()
        if age > self._max_age or (unknown and age >= self._min_interval):
            await self._reload(kid)
        return self._keys

    async def _reload(self, kid: str | None) -> None:
        async with self._lock:
            age = time.monotonic() - self._loaded_at
            # Another request may have reloaded while this one waited for the lock.
            if age < self._min_interval and (kid is None or kid in self._kids()):
                return
            try:
                self._keys = await self._loader()
            except Exception as exc:
                # Keep the old keys: an issuer blip must not log everybody out.
                log.warning("could not load signing keys: %s", exc)
            self._loaded_at = time.monotonic()


def jwks_loader(url: str, *, timeout: float = 5.0) -> KeyLoader:
    """Load a JWKS document from an http(s) URL or a file:// URL (a mounted key set)."""

    async def load() -> KeySet:
        parts = urlsplit(url)
        if parts.scheme == "file":
            raw = await asyncio.to_thread(_read_file, url2pathname(parts.path))
        else:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                raw = response.content
        document = msgspec.json.decode(raw)
        keys = [k for k in document.get("keys", []) if k.get("use", "sig") == "sig" and "d" not in k]
        return KeySet.import_key_set({"keys": keys})

    return load


def _read_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    issuer: str
    keys: KeyCache


def parse_issuers(primary: str, primary_jwks: str, more: str) -> list[tuple[str, str]]:
    """`more` holds extra `issuer=jwks_url` pairs, comma-separated."""
    pairs = [(primary, primary_jwks)] if primary and primary_jwks else []
    for entry in more.split(","):
        entry = entry.strip()
        if not entry:
            continue
        issuer, sep, url = entry.partition("=")
        if not sep or not issuer.strip() or not url.strip():
            raise ValueError(f"auth_issuers entry {entry!r} is not issuer=jwks_url")
        pairs.append((issuer.strip(), url.strip()))
    return pairs


@dataclass
class _Cached:
    principal: Principal
    until: float


class TokenVerifier:
    """Verifies access tokens from any trusted issuer; the hot path is one dict lookup."""

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        audiences: Iterable[str],
        *,
        leeway: int = 30,
        cache_size: int = 20_000,
        cache_seconds: float = 300.0,
        revocations: Revocations | None = None,
    ) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self.revocations = revocations or Revocations()
        self._audiences = frozenset(a for a in audiences if a)
        if not self._audiences:
            raise ValueError("at least one accepted audience is required")
        self._leeway = leeway
        self._cache: dict[str, _Cached] = {}
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds

    @classmethod
    def from_settings(cls, settings: Any) -> TokenVerifier:
        """Build from the `auth_*` fields every ServiceSettings has."""
        pairs = parse_issuers(settings.auth_issuer, settings.auth_jwks_url, settings.auth_issuers)
        trusted = [
            TrustedIssuer(
                iss,
                KeyCache(
                    jwks_loader(url),
                    min_interval=settings.auth_jwks_refresh_seconds,
                    max_age=settings.auth_jwks_max_age_seconds,
                ),
            )
            for iss, url in pairs
        ]
        return cls(trusted, settings.auth_audience.split(","), leeway=settings.auth_leeway_seconds)

    def __deepcopy__(self, memo: dict[int, Any]) -> TokenVerifier:
        # One per process: Litestar deep-copies a router, its middleware's arguments included, when
        # it registers it; a copy would keep caches of its own and never hear of a revocation.
        return self

    def trust(self, issuer: str, keys: KeyCache) -> None:
        self._issuers[issuer] = TrustedIssuer(issuer, keys)

    async def verify(self, token: str) -> Principal:
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None and now < cached.until:
            principal = cached.principal
        else:
            if cached is not None:
                del self._cache[token]
            principal = await self._verify(token, now)
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))  # oldest first: dicts keep insertion order
            until = min(principal.expires_at + self._leeway, now + self._cache_seconds)
            self._cache[token] = _Cached(principal, until)
        if self.revocations.revoked(principal.issuer, principal.client_id, principal.issued_at):
            raise unauthenticated("Token has been revoked (its client was disabled).")
        return principal

    async def _verify(self, token: str, now: float) -> Principal:
        header, claims = _peek(token)
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise unauthenticated(f"Token algorithm {str(alg)[:20]!r} is not accepted.")
        issuer = claims.get("iss")
        trusted = self._issuers.get(issuer) if isinstance(issuer, str) else None
        if trusted is None:
            raise unauthenticated("Token issuer is not trusted.")
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        keys = await trusted.keys.key_set(kid)
        try:
            verified = jwt.decode(token, keys, algorithms=ALLOWED_ALGORITHMS)
        except JoseError as exc:
            raise unauthenticated(f"Token signature is not valid ({exc.error}).") from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise unauthenticated("Token signature is not valid.") from exc
        self._check_claims(verified.claims, now)
        return principal_from_claims(verified.claims)

    def _check_claims(self, claims: Mapping[str, Any], now: float) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise unauthenticated("Token has no expiry.")
        if now > exp + self._leeway:
            raise unauthenticated("Token has expired.")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and now + self._leeway < nbf:
            raise unauthenticated("Token is not valid yet.")
        aud = claims.get("aud")
        audiences = {aud} if isinstance(aud, str) else set(aud) if isinstance(aud, list) else set()
        if not audiences & self._audiences:
            raise unauthenticated("Token is not meant for this audience.")


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims before verification: only to choose the issuer and key."""
    parts = token.split(".")
    if len(parts) != 3:
        raise unauthenticated("Token is not a signed JWT.")
    try:
        header = msgspec.json.decode(_b64(parts[0]))
        claims = msgspec.json.decode(_b64(parts[1]))
    except (ValueError, msgspec.DecodeError) as exc:
        raise unauthenticated("Token is not a signed JWT.") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise unauthenticated("Token is not a signed JWT.")
    return header, claims


def verified_claims(token: str) -> dict[str, Any]:
    """The claims of a token that `TokenVerifier.verify` has already accepted."""
    return _peek(token)[1]


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Our own tokens say `client_id` and `scope`; Keycloak says `azp`, Entra ID `appid`/`scp`."""
    raw_scope = claims.get("scope", claims.get("scp", ""))
    scopes = raw_scope.split() if isinstance(raw_scope, str) else [s for s in raw_scope if isinstance(s, str)]
    subject = str(claims.get("sub", ""))
    client_id = claims.get("client_id") or claims.get("azp") or claims.get("appid") or subject
    return Principal(
        client_id=str(client_id),
        subject=subject,
        issuer=str(claims["iss"]),
        scopes=frozenset(scopes),
        expires_at=int(claims["exp"]),
        supplier_id=_opt_str(claims.get("supplier_id")),
        person_id=_opt_str(claims.get("person_id")),
        site=_opt_str(claims.get("site")),
        issued_at=_int_claim(claims.get("iat")),
    )


def _int_claim(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _opt_str(value: Any) -> str | None:
    return (
        str(value) if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None
    )


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthenticated("Authorization must be a Bearer token.")
            return token.strip()
    raise AuthError(
        401, "This API needs an access token (Authorization: Bearer ...).", error="invalid_request"
    )


def check_scopes(principal: Principal, needed: Sequence[str]) -> None:
    missing = [s for s in needed if s not in principal.scopes]
    if missing:
        raise AuthError(
            403,
            f"The token lacks the scope {' '.join(missing)}.",
            error="insufficient_scope",
            scope=" ".join(needed),
        )


def default_scopes(service: str, method: str) -> tuple[str, ...]:
    return (f"{service}:read",) if method in SAFE_METHODS else (f"{service}:write",)


def route_scopes(opt: Mapping[str, Any], service: str, method: str) -> tuple[str, ...]:
    declared = opt.get("scopes")
    if declared is None:
        return default_scopes(service, method)
    return (declared,) if isinstance(declared, str) else tuple(declared)


def route_alternatives(opt: Mapping[str, Any], service: str, method: str) -> tuple[tuple[str, ...], ...]:
    """The scope sets of which a token must hold one whole set to call the route."""
    any_scope = opt.get("any_scope")
    if any_scope is not None:
        return tuple((s,) for s in any_scope)
    return (route_scopes(opt, service, method),)


def check_alternatives(principal: Principal, alternatives: Sequence[Sequence[str]]) -> None:
    if len(alternatives) == 1:
        check_scopes(principal, alternatives[0])
        return
    if not any(principal.has(*scopes) for scopes in alternatives):
        wanted = " or ".join(" ".join(scopes) for scopes in alternatives)
        raise AuthError(
            403,
            f"The token needs the scope {wanted}.",
            error="insufficient_scope",
            scope=" ".join(s for scopes in alternatives for s in scopes),
        )


async def send_auth_error(send: Send, error: AuthError) -> None:
    await send({"type": "http.response.start", "status": error.status, "headers": error.headers()})
    await send({"type": "http.response.body", "body": error.body(), "more_body": False})


@dataclass
class AuthMiddleware:
    """Runs inside a service's API router (after routing, so the handler's scopes are known)."""

    app: ASGIApp
    verifier: TokenVerifier
    service: str
    _scopes: dict[tuple[int, str], tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        handler = scope.get("route_handler")
        key = (id(handler), method)
        needed = self._scopes.get(key)
        if needed is None:
            needed = route_alternatives(getattr(handler, "opt", {}) or {}, self.service, method)
            self._scopes[key] = needed
        try:
            principal = await self.verifier.verify(bearer_token(scope["headers"]))
            check_alternatives(principal, needed)
        except AuthError as error:
            await send_auth_error(send, error)
            return
        scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)


def current_principal(scope_or_request: Any) -> Principal:
    """The caller of this request (in a handler: `current_principal(request)`)."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    principal: Principal = scope["state"][PRINCIPAL_KEY]
    return principal


__all__ = [
    "ALLOWED_ALGORITHMS",
    "PRINCIPAL_KEY",
    "AuthError",
    "AuthMiddleware",
    "KeyCache",
    "Principal",
    "TokenVerifier",
    "TrustedIssuer",
    "bearer_token",
    "check_alternatives",
    "check_scopes",
    "current_principal",
    "document_security",
    "jwks_loader",
    "parse_issuers",
    "principal_from_claims",
    "route_alternatives",
    "route_scopes",
    "verified_claims",
]


def _describe(scope: str) -> str:
    name, _, access = scope.partition(":")
    return {"read": f"Read {name} records", "write": f"Create and change {name} records"}.get(access, scope)


def document_security(
    app: Litestar, *, api_path: str, service: str, token_url: str, public: Container[str] = ()
) -> None:
    """Say in the OpenAPI document what AuthMiddleware enforces: the OAuth2 scheme, each
    operation's scopes and its 401/403 problems. Call before the document is first built.
    Routes whose path is in `public` take no token (they authenticate requests themselves)."""
    from contracts.kit.responses import problems

    all_scopes: dict[str, str] = {}
    signed = False
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(api_path + "/"):
            continue
        if route.path.startswith(f"{api_path}/schema"):
            continue
        if route.path in public:
            signed = True
            for handler, _ in route.route_handler_map.values():
                handler.security = [{SIGNATURE_SCHEME: []}]
                handler.responses = {**problems(401), **(handler.responses or {})}
            continue
        for method, (handler, _) in route.route_handler_map.items():
            alternatives = route_alternatives(handler.opt or {}, service, method)
            all_scopes.update({s: _describe(s) for needed in alternatives for s in needed})
            handler.security = [{BEARER_SCHEME: list(needed)} for needed in alternatives]
            handler.responses = {**problems(401, 403), **(handler.responses or {})}
    config = app.openapi_config
    if config is None:
        return
    components = config.components if isinstance(config.components, Components) else Components()
    components.security_schemes = {
        **(components.security_schemes or {}),
        BEARER_SCHEME: SecurityScheme(
            type="oauth2",
            description=(
                "JWT access token (client credentials at the gateway, or a trusted identity provider)."
            ),
            flows=OAuthFlows(
                client_credentials=OAuthFlow(token_url=token_url, scopes=dict(sorted(all_scopes.items())))
            ),
        ),
        **(
            {
                SIGNATURE_SCHEME: SecurityScheme(
                    type="apiKey",
                    name="webhook-signature",
                    security_scheme_in="header",
                    description="A Standard Webhooks signature over `webhook-id.webhook-timestamp.body` "
                    "with the sender's shared secret, in place of an access token.",
                )
            }
            if signed
            else {}
        ),
    }
    config.components = components
