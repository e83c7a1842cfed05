"""Token signing keys: one signs, older ones stay published until their tokens have expired.

Keys live in the gateway's database, so every gateway process signs with the same key and a
rotation made by the CLI (or by age) reaches all of them on their next reload. With
`GATEWAY_KEY_ENCRYPTION_KEY` set, the private halves are stored sealed (AES-256-GCM, bound to
their kid), so a copy of the database or a backup cannot mint tokens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.db import Database
from contracts.kit.sealing import Sealer, is_sealed
from gateway.store import signing_keys

log = logging.getLogger("gateway.keys")
SigningKey = RSAKey | ECKey


class KeyCipher(Sealer):
    """Seals private JWKs at rest with GATEWAY_KEY_ENCRYPTION_KEY (contracts/kit/sealing.py)."""

    @classmethod
    def from_setting(cls, key: str) -> KeyCipher | None:
        """The cipher for `GATEWAY_KEY_ENCRYPTION_KEY`, or None when it is not set."""
        return cls(key) if key else None


def _private_jwk(kid: str, stored: str, cipher: KeyCipher | None) -> str:
    if not is_sealed(stored):
        return stored
    if cipher is None:
        raise ValueError(f"signing key {kid} is encrypted: set GATEWAY_KEY_ENCRYPTION_KEY")
    return cipher.open(kid, stored)


def generate(algorithm: str) -> SigningKey:
    kid = f"{datetime.now(UTC):%Y%m%d}-{uuid.uuid4().hex[:8]}"
    params: Any = {"kid": kid, "use": "sig", "alg": algorithm}
    if algorithm.startswith(("RS", "PS")):
        return RSAKey.generate_key(2048, parameters=params)
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", parameters=params)
    raise ValueError(f"unsupported signing algorithm {algorithm}")


async def rotate(
    session: AsyncSession,
    algorithm: str,
    token_ttl: int,
    leeway: int = 60,
    *,
    cipher: KeyCipher | None = None,
) -> str:
    """Retire the signing key(s) and add a new one; retired keys stay published for `token_ttl`."""
    now = datetime.now(UTC)
    key = generate(algorithm)
    await session.execute(
        update(signing_keys)
        .where(signing_keys.c.retired_at.is_(None))
        .values(retired_at=now, publish_until=now + timedelta(seconds=token_ttl + leeway))
    )
    await session.execute(
        signing_keys.insert().values(
            kid=key.kid,
            algorithm=algorithm,
            private_jwk=_stored(str(key.kid), json.dumps(key.as_dict(private=True)), cipher),
            created_at=now,
        )
    )
    log.info("signing key rotated: %s now signs", key.kid)
    return str(key.kid)


def _stored(kid: str, private_jwk: str, cipher: KeyCipher | None) -> str:
    return cipher.seal(kid, private_jwk) if cipher is not None else private_jwk


async def seal_stored_keys(session: AsyncSession, cipher: KeyCipher) -> int:
    """Seal the keys stored before encryption was configured; returns how many."""
    rows = (await session.execute(select(signing_keys.c.kid, signing_keys.c.private_jwk))).all()
    plain = [r for r in rows if not is_sealed(r.private_jwk)]
    for row in plain:
        await session.execute(
            update(signing_keys)
            .where(signing_keys.c.kid == row.kid)
            .values(private_jwk=cipher.seal(row.kid, row.private_jwk))
        )
    return len(plain)


async def published(
    session: AsyncSession, *, cipher: KeyCipher | None = None
) -> list[tuple[SigningKey, datetime, bool]]:
    """Every key still in the JWKS, newest first: (key, created_at, signs)."""
    now = datetime.now(UTC)
    rows = (
        await session.execute(
            select(signing_keys)
            .where(or_(signing_keys.c.publish_until.is_(None), signing_keys.c.publish_until > now))
            .order_by(signing_keys.c.created_at.desc())
        )
    ).all()
    result: list[tuple[SigningKey, datetime, bool]] = []
    for row in rows:
        data = json.loads(_private_jwk(row.kid, row.private_jwk, cipher))
        key: SigningKey = RSAKey.import_key(data) if data["kty"] == "RSA" else ECKey.import_key(data)
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        result.append((key, created, row.retired_at is None))
    return result


@dataclass
class _State:
    signer: SigningKey | None
    signer_created: datetime | None
    public: KeySet
    jwks: dict[str, Any]
    loaded_at: float


class KeyRing:
    """This process's view of the keys, reloaded from the database every `reload_seconds`."""

    def __init__(
        self,
        db: Database,
        *,
        algorithm: str,
        token_ttl: int,
        rotation_days: int,
        reload_seconds: float = 30.0,
        cipher: KeyCipher | None = None,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.algorithm = algorithm
        self.token_ttl = token_ttl
        self.rotation = timedelta(days=rotation_days)
        self.reload_seconds = reload_seconds  # how stale another process's rotation may look here
        self._state = _State(None, None, KeySet([]), {"keys": []}, float("-inf"))
        self._lock = asyncio.Lock()

    async def reload(self) -> None:
        async with self.db.transaction() as session:
            keys = await published(session, cipher=self.cipher)
        signer = next(((k, c) for k, c, signs in keys if signs), None)
        public = [KeySet.import_key_set({"keys": [k.as_dict(private=False)]}).keys[0] for k, _, _ in keys]
        self._state = _State(
            signer=signer[0] if signer else None,
            signer_created=signer[1] if signer else None,
            public=KeySet(public),
            jwks={"keys": [k.as_dict(private=False) for k in public]},
            loaded_at=time.monotonic(),
        )

    async def ensure_fresh(self, *, force: bool = False) -> None:
        """Reload if stale; make or rotate the signing key when there is none or it is too old."""
        if (
            not force
            and time.monotonic() - self._state.loaded_at < self.reload_seconds
            and not self._needs_rotation()
        ):
            return
        async with self._lock:
            await self.reload()
            if self._needs_rotation():
                async with self.db.transaction() as session:
                    await rotate(session, self.algorithm, self.token_ttl, cipher=self.cipher)
                await self.reload()

    def _needs_rotation(self) -> bool:
        created = self._state.signer_created
        return created is None or datetime.now(UTC) - created > self.rotation

    async def public_keys(self) -> KeySet:
        """The loader for this gateway's own KeyCache (verification without a network hop)."""
        await self.ensure_fresh(force=True)
        return self._state.public

    def jwks(self) -> dict[str, Any]:
        return self._state.jwks

    def sign(self, claims: dict[str, Any]) -> str:
        signer = self._state.signer
        if signer is None:
            raise RuntimeError("no signing key loaded (call ensure_fresh first)")
        header = {"alg": self.algorithm, "kid": signer.kid, "typ": "at+jwt"}  # RFC 9068 media type
        return jwt.encode(header, claims, signer, algorithms=[self.algorithm])
