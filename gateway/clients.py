"""Registered OAuth2 clients: hashed secrets, allowed scopes and the claims they carry."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import math
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store import clients

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._\-]{3,100}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token
# A client secret is a machine's password: guessing it must be hopeless even without the
# token endpoint's throttle. A random secret made here has 256 bits.
MIN_SECRET_LENGTH = 20
MIN_SECRET_BITS = 80


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


@functools.cache
def _unknown_client_hash() -> str:
    return hash_secret(secrets.token_urlsafe(32))


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    actual = hashlib.scrypt(secret.encode(), salt=salt, dklen=len(expected), **_SCRYPT)
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client_id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    supplier_id: str | None = None
    person_id: str | None = None
    site: str | None = None
    active: bool = True

    def claims(self) -> dict[str, str]:
        """Extra claims a token for this client carries (a supplier's id, a technician's person and site)."""
        found = {"supplier_id": self.supplier_id, "person_id": self.person_id, "site": self.site}
        return {k: v for k, v in found.items() if v}

    @classmethod
    def unknown(cls, client_id: str) -> RegisteredClient:
        """Stands in for a client id nobody registered: its secret check costs the same scrypt
        as a real one and always fails, so the answer's timing does not tell who exists."""
        return cls(client_id, "", _unknown_client_hash(), (), active=False)


def secret_bits(secret: str) -> float:
    """An estimate of a secret's entropy: its length times the Shannon entropy of its characters
    (so "aaaa..." scores 0 whatever its length)."""
    counts = Counter(secret).values()
    return -sum(n * math.log2(n / len(secret)) for n in counts)


def validate_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH or secret_bits(secret) < MIN_SECRET_BITS:
        raise ValueError(
            f"client secrets need at least {MIN_SECRET_LENGTH} characters and about {MIN_SECRET_BITS}"
            " bits of randomness (not repetitive); leave --secret out to get a random 256-bit one"
        )


def validate_registration(client_id: str, scopes: list[str]) -> None:
    if not _CLIENT_ID.fullmatch(client_id):  # fullmatch: "$" alone lets a final newline in
        raise ValueError("client_id must be 3-100 characters of letters, digits, '.', '_' or '-'")
    bad = [s for s in scopes if not _SCOPE.fullmatch(s)]
    if bad or not scopes:
        raise ValueError(f"scopes must be one or more OAuth2 scope tokens (bad: {bad})")


class Registration(msgspec.Struct, kw_only=True):
    """A client to store (`plantbridge gateway register-client`'s arguments): without `secret` a
    random one is made; an existing client is an error unless `replace`, which gives it the new
    secret, scopes and claims (how the embedded platform re-registers its own clients on every start)."""

    client_id: str
    scopes: list[str]
    name: str = ""  # default: the client id
    secret: str | None = None
    supplier_id: str | None = None
    person_id: str | None = None
    site: str | None = None
    replace: bool = False


async def register(session: AsyncSession, client: Registration) -> str:
    """Store a client; returns its secret, which is never stored in clear."""
    client_id = client.client_id
    validate_registration(client_id, client.scopes)
    secret = secrets.token_urlsafe(32) if client.secret is None else client.secret
    validate_secret(secret)
    values = {
        "name": client.name or client_id,
        "secret_hash": hash_secret(secret),
        "scopes": " ".join(client.scopes),
        "supplier_id": client.supplier_id,
        "person_id": client.person_id,
        "site": client.site,
        "active": True,
    }
    if await find(session, client_id) is not None:
        if not client.replace:
            raise ValueError(f"client {client_id} is already registered (--replace gives it a new secret)")
        await session.execute(update(clients).where(clients.c.client_id == client_id).values(**values))
    else:
        await session.execute(
            clients.insert().values(client_id=client_id, created_at=datetime.now(UTC), **values)
        )
    return secret


async def find(session: AsyncSession, client_id: str) -> RegisteredClient | None:
    """The registered client a request claims to be; None for an id none is registered under
    (without asking the database: PostgreSQL refuses a NUL in text, which was a 500)."""
    if not _CLIENT_ID.fullmatch(client_id):
        return None
    return await _read(session, client_id)


async def _read(session: AsyncSession, client_id: str) -> RegisteredClient | None:
    row = (await session.execute(select(clients).where(clients.c.client_id == client_id))).one_or_none()
    if row is None:
        return None
    return RegisteredClient(
        client_id=row.client_id,
        name=row.name,
        secret_hash=row.secret_hash,
        scopes=tuple(row.scopes.split()),
        supplier_id=row.supplier_id,
        person_id=row.person_id,
        site=row.site,
        active=row.active,
    )


async def list_all(session: AsyncSession) -> list[RegisteredClient]:
    ids = (await session.execute(select(clients.c.client_id).order_by(clients.c.client_id))).scalars().all()
    # Every stored client, including one an older version let in with an id now refused.
    return [c for c in [await _read(session, i) for i in ids] if c is not None]


async def set_active(session: AsyncSession, client_id: str, active: bool) -> bool:
    result = await session.execute(
        update(clients).where(clients.c.client_id == client_id).values(active=active)
    )
    return bool(getattr(result, "rowcount", 0))
