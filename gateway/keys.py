"""Token signing keys: one signs, older ones stay published until their tokens have expired.

A new key is published `ahead` seconds before it signs (longer than any service keeps a fetched
key set, GATEWAY_KEY_PUBLISH_AHEAD_SECONDS), so by the time a token names it, every service
already has it: no service refuses fresh tokens during a rotation. Keys live in the gateway's
database, so every gateway process signs with the same key and switches at the same moment. With
`GATEWAY_KEY_ENCRYPTION_KEY` set, the private halves are stored sealed (AES-256-GCM, bound to
their kid), so a copy of the database or a backup cannot mint tokens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.db import Database
from contracts.kit.sealing import Sealer, is_sealed
from gateway.settings import GatewaySettings, SigningAlgorithm
from gateway.store import signing_keys

log = logging.getLogger("gateway.keys")
SigningKey = RSAKey | ECKey
_ROTATION_LOCK = zlib.crc32(b"plantbridge.gateway.rotation")


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


def generate(algorithm: SigningAlgorithm) -> SigningKey:
    kid = f"{datetime.now(UTC):%Y%m%d}-{uuid.uuid4().hex[:8]}"
    params: Any = {"kid": kid, "use": "sig", "alg": algorithm}
    if algorithm.startswith(("RS", "PS")):
        return RSAKey.generate_key(2048, parameters=params)
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", parameters=params)
    raise ValueError(f"unsupported signing algorithm {algorithm}")


async def rotate(
    session: AsyncSession,
    algorithm: SigningAlgorithm,
    token_ttl: int,
    leeway: int = 60,
    *,
    ahead: float = 0.0,
    cipher: KeyCipher | None = None,
) -> tuple[str, datetime]:
    """Publish a new key now that signs `ahead` seconds from now, when the current one(s) retire;
    retired keys stay published until their last tokens expire. Returns (kid, signs_from)."""
    now = datetime.now(UTC)
    signs_from = now + timedelta(seconds=ahead)
    key = generate(algorithm)
    await session.execute(
        update(signing_keys)
        .where(signing_keys.c.retired_at.is_(None))
        .values(retired_at=signs_from, publish_until=signs_from + timedelta(seconds=token_ttl + leeway))
    )
    await session.execute(
        signing_keys.insert().values(
            kid=key.kid,
            algorithm=algorithm,
            private_jwk=_stored(str(key.kid), json.dumps(key.as_dict(private=True)), cipher),
            created_at=now,
            signs_from=signs_from,
        )
    )
    log.info("signing key rotated: %s published, signs from %s", key.kid, signs_from.isoformat())
    return str(key.kid), signs_from


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


@dataclass(frozen=True)
class Published:
    """A key in the JWKS, the algorithm it signs with and the time it signs in: [signs_from, retired_at)."""

    key: SigningKey
    algorithm: str
    created_at: datetime
    signs_from: datetime
    retired_at: datetime | None

    def signs(self, at: datetime) -> bool:
        return self.signs_from <= at and (self.retired_at is None or at < self.retired_at)


async def published(session: AsyncSession, *, cipher: KeyCipher | None = None) -> list[Published]:
    """Every key in the JWKS, newest first."""
    now = datetime.now(UTC)
    rows = (
        await session.execute(
            select(signing_keys)
            .where(or_(signing_keys.c.publish_until.is_(None), signing_keys.c.publish_until > now))
            .order_by(signing_keys.c.created_at.desc())
        )
    ).all()
    result: list[Published] = []
    for row in rows:
        data = json.loads(_private_jwk(row.kid, row.private_jwk, cipher))
        key: SigningKey = RSAKey.import_key(data) if data["kty"] == "RSA" else ECKey.import_key(data)
        created = _utc(row.created_at)
        retired = _utc(row.retired_at) if row.retired_at else None
        signs_from = _utc(row.signs_from) if row.signs_from else created
        result.append(Published(key, row.algorithm, created, signs_from, retired))
    return result


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class _State:
    keys: list[Published]
    public: KeySet
    jwks: dict[str, Any]
    loaded_at: float


class KeyRing:
    """This process's view of the keys, reloaded from the database every `key_reload_seconds` (how
    stale another process's rotation may look here) and rotated as the other `key_*` settings say."""

    def __init__(self, db: Database, settings: GatewaySettings) -> None:
        self.db = db
        self.settings = settings
        self.cipher = KeyCipher.from_setting(settings.key_encryption_key)
        self._state = _State([], KeySet([]), {"keys": []}, float("-inf"))
        self._lock = asyncio.Lock()
        self._started = datetime.now(UTC)

    async def reload(self) -> None:
        async with self.db.transaction() as session:
            keys = await published(session, cipher=self.cipher)
        public = [KeySet.import_key_set({"keys": [p.key.as_dict(private=False)]}).keys[0] for p in keys]
        self._state = _State(
            keys=keys,
            public=KeySet(public),
            jwks={"keys": [k.as_dict(private=False) for k in public]},
            loaded_at=time.monotonic(),
        )

    async def ensure_fresh(self, *, force: bool = False) -> None:
        """Reload if stale; make or rotate the signing key when there is none or it is too old."""
        if (
            not force
            and time.monotonic() - self._state.loaded_at < self.settings.key_reload_seconds
            and not self._needs_rotation()
        ):
            return
        async with self._lock:
            await self.reload()
            if self._needs_rotation():
                async with self.db.transaction() as session:
                    await self._rotate_unless_done(session)
                await self.reload()

    async def _rotate_unless_done(self, session: AsyncSession) -> None:
        """Rotate, unless another process (a worker, a replica) did since our reload: gateways
        that start or age together must make one key, not one each, or each would sign with a key
        the others learn of only at their next reload."""
        if self.db.is_sqlite:
            # A write takes the database's write lock: another process waits here for our commit.
            await session.execute(
                update(signing_keys).where(signing_keys.c.retired_at.is_(None)).values(kid=signing_keys.c.kid)
            )
        else:
            await session.execute(select(func.pg_advisory_xact_lock(_ROTATION_LOCK)))
        self._state.keys = await published(session, cipher=self.cipher)  # as it is now, under the lock
        if self._needs_rotation():
            # The very first key signs at once (no token can name an older one); later ones are
            # published ahead of their turn.
            settings = self.settings
            ahead = settings.key_publish_ahead_seconds if self._signer(datetime.now(UTC)) else 0.0
            await rotate(
                session, settings.key_algorithm, settings.token_ttl_seconds, ahead=ahead, cipher=self.cipher
            )

    def _needs_rotation(self) -> bool:
        """No key signs now or later; or the newest one is of another algorithm than
        GATEWAY_KEY_ALGORITHM and older than this process; or it would reach its rotation age
        before a successor published now could take over."""
        now = datetime.now(UTC)
        upcoming = [p for p in self._state.keys if p.retired_at is None or p.retired_at > now]
        if not upcoming:
            return True
        newest = max(upcoming, key=lambda p: p.signs_from)
        # A key made after this process started, by a process set otherwise (a replica restarted
        # with the new setting while this one still has the old, `rotate-key`), is the operator's
        # later word: rotating back would have the two take turns making keys at every check.
        if newest.algorithm != self.settings.key_algorithm and newest.created_at < self._started:
            return True
        rotation = timedelta(days=self.settings.key_rotation_days)
        return now - newest.signs_from > rotation - timedelta(seconds=self.settings.key_publish_ahead_seconds)

    def _signer(self, at: datetime) -> Published | None:
        signing = [p for p in self._state.keys if p.signs(at)]
        return max(signing, key=lambda p: p.signs_from) if signing else None

    async def public_keys(self) -> KeySet:
        """The loader for this gateway's own KeyCache (verification without a network hop)."""
        await self.ensure_fresh(force=True)
        return self._state.public

    def jwks(self) -> dict[str, Any]:
        return self._state.jwks

    def sign(self, claims: dict[str, Any]) -> str:
        signer = self._signer(datetime.now(UTC))
        if signer is None:
            raise RuntimeError("no signing key loaded (call ensure_fresh first)")
        # The key's own algorithm, not the setting's: after GATEWAY_KEY_ALGORITHM changes, the
        # current key signs on until its successor of the new type takes over.
        header = {"alg": signer.algorithm, "kid": signer.key.kid, "typ": "at+jwt"}  # RFC 9068 media type
        return jwt.encode(header, claims, signer.key, algorithms=[signer.algorithm])
