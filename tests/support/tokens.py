"""Access tokens for tests, signed by a test issuer every launched service is told to trust.

The issuer is real JOSE: an RSA key made once per test session, its public half published as a
JWKS file that services load through their normal `auth_issuers` setting (`issuer=file://...`).
Nothing in the services knows about tests.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

TEST_ISSUER = "https://issuer.plantbridge.test"
TEST_AUDIENCE = "plantbridge"


class TokenIssuer:
    """An issuer with a key set of its own, published as a JWKS file (or served by a caller)."""

    def __init__(self, directory: Path, issuer: str = TEST_ISSUER, kid: str | None = None) -> None:
        self.issuer = issuer
        self.directory = directory
        self.keys: list[RSAKey] = []
        self.jwks_path = directory / "jwks.json"
        self.rotate(kid)

    @property
    def key(self) -> RSAKey:
        return self.keys[-1]

    def rotate(self, kid: str | None = None) -> RSAKey:
        """A new signing key; earlier ones stay published."""
        key = RSAKey.generate_key(
            2048, parameters={"kid": kid or uuid.uuid4().hex[:12], "use": "sig", "alg": "RS256"}
        )
        self.keys.append(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.jwks_path.write_text(json.dumps(self.jwks()))
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.keys]}

    @property
    def jwks_url(self) -> str:
        return self.jwks_path.resolve().as_uri()

    @property
    def setting(self) -> str:
        """The value for a service's `auth_issuers` setting."""
        return f"{self.issuer}={self.jwks_url}"

    def claims(
        self,
        scopes: Sequence[str],
        *,
        client_id: str = "test-client",
        audience: str | list[str] = TEST_AUDIENCE,
        lifetime: int = 6 * 3600,
        **extra: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": client_id,
            "client_id": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "scope": " ".join(scopes),
            **{k: v for k, v in extra.items() if v is not None},
        }

    def sign(self, claims: Mapping[str, Any], *, key: RSAKey | None = None, alg: str = "RS256") -> str:
        key = key or self.key
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "at+jwt"}, dict(claims), key)

    def mint(self, scopes: Sequence[str], **options: Any) -> str:
        return self.sign(self.claims(scopes, **options))


_issuer: TokenIssuer | None = None


def test_issuer() -> TokenIssuer:
    """The session's test issuer (made on first use; one per test process)."""
    global _issuer
    if _issuer is None:
        _issuer = TokenIssuer(Path(tempfile.mkdtemp(prefix="pb-test-issuer-")), kid="test-1")
    return _issuer


test_issuer.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def mint_token(scopes: Sequence[str], **options: Any) -> str:
    return test_issuer().mint(scopes, **options)


def token_provider(scopes: Sequence[str], **options: Any) -> Callable[[], Awaitable[str]]:
    """A typed client's `token` (contracts.clients.base.TokenProvider): one token for `scopes`."""
    token = mint_token(scopes, **options)

    async def provide() -> str:
        return token

    return provide


def bearer(scopes: Sequence[str], **options: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(scopes, **options)}"}


def auth_settings() -> dict[str, str]:
    """Settings overrides for an app built in-process (`create_app(**auth_settings())`)."""
    return {"auth_issuers": test_issuer().setting}


def service_env(prefix: str) -> dict[str, str]:
    """Environment for a launched service process so it trusts the test issuer."""
    return {f"{prefix}_AUTH_ISSUERS": test_issuer().setting}
