"""Signing keys sealed at rest with GATEWAY_KEY_ENCRYPTION_KEY: a copy of the gateway's
database without that key cannot mint tokens, and the gateway still signs and rotates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from contracts.kit.db import Database
from gateway import keys
from gateway.keys import KeyCipher
from gateway.store import metadata, signing_keys
from tests.gateway.conftest import GatewayCli, StartGateway
from tests.support.db import rows
from tests.support.fixtures import PlantbridgeCli


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/gateway.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database  # type: ignore[misc]
    await database.dispose()


def test_a_sealed_key_opens_only_with_its_key_and_its_kid() -> None:
    cipher = KeyCipher(KeyCipher.new_key())
    sealed = cipher.seal("kid-1", '{"kty":"EC","d":"secret"}')
    assert "secret" not in sealed
    assert cipher.open("kid-1", sealed) == '{"kty":"EC","d":"secret"}'
    with pytest.raises(ValueError, match="does not open"):
        KeyCipher(KeyCipher.new_key()).open("kid-1", sealed)
    with pytest.raises(ValueError, match="does not open"):
        cipher.open("kid-2", sealed)  # moved to another row: refused


@pytest.mark.parametrize("setting", ["short", "not base64 at all!!", "A" * 60])
def test_a_malformed_encryption_key_is_refused(setting: str) -> None:
    with pytest.raises(ValueError, match="key encryption key"):
        KeyCipher(setting)


async def test_rotated_keys_are_stored_sealed_and_load_with_the_key(db: Database) -> None:
    cipher = KeyCipher(KeyCipher.new_key())
    async with db.transaction() as session:
        kid, _ = await keys.rotate(session, "ES256", 900, cipher=cipher)
    async with db.sessions() as session:
        stored = await session.scalar(signing_keys.select().with_only_columns(signing_keys.c.private_jwk))
        assert stored is not None
        assert keys.is_sealed(stored)
        assert '"d"' not in stored
        [key] = await keys.published(session, cipher=cipher)
        assert (key.key.kid, key.signs(datetime.now(UTC))) == (kid, True)
        with pytest.raises(ValueError, match="GATEWAY_KEY_ENCRYPTION_KEY"):
            await keys.published(session)


async def test_keys_stored_before_encryption_are_sealed_in_place(db: Database) -> None:
    async with db.transaction() as session:
        kid, _ = await keys.rotate(session, "ES256", 900)
    cipher = KeyCipher(KeyCipher.new_key())
    async with db.transaction() as session:
        assert await keys.seal_stored_keys(session, cipher) == 1
        assert await keys.seal_stored_keys(session, cipher) == 0
    async with db.sessions() as session:
        [key] = await keys.published(session, cipher=cipher)
    assert key.key.kid == kid


async def test_the_gateway_signs_with_a_sealed_key(
    start_gateway: StartGateway, gateway_cli: GatewayCli, plantbridge_cli: PlantbridgeCli, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"
    secret = KeyCipher.new_key()
    gateway_cli(
        url,
        "register-client",
        "sealed-client",
        "--scopes",
        "erp:read",
        "--secret",
        "sealed-client-secret-0123456789",
    )
    gateway = start_gateway(database_url=url, key_encryption_key=secret)

    async with httpx.AsyncClient(base_url=gateway.url) as http:
        answer = await http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("sealed-client", "sealed-client-secret-0123456789"),
        )
        assert answer.status_code == 200, answer.text
        published = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    claims = jwt.decode(answer.json()["access_token"], published).claims
    assert (claims["client_id"], claims["iss"]) == ("sealed-client", gateway.url)

    [(stored,)] = await rows(url, "SELECT private_jwk FROM gateway_signing_keys")
    assert keys.is_sealed(stored)
    assert '"d"' not in stored
    # Without the key the operator's tools say what is missing; with it they work.
    refused = plantbridge_cli("gateway", "keys", env={"GATEWAY_DATABASE_URL": url})
    assert refused.returncode == 2
    assert "GATEWAY_KEY_ENCRYPTION_KEY" in refused.stderr
    opened = {"GATEWAY_DATABASE_URL": url, "GATEWAY_KEY_ENCRYPTION_KEY": secret}
    assert plantbridge_cli("gateway", "keys", env=opened).returncode == 0
