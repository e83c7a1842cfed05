"""Signing secrets: made here (Standard Webhooks `whsec_` + base64 of 32 random bytes) and, with
WEBHOOKS_SECRET_ENCRYPTION_KEY set, stored sealed (contracts/kit/sealing.py, bound to the
subscription id), so a copy of the database or a backup cannot sign deliveries."""

from __future__ import annotations

import base64
import secrets

from contracts.kit.sealing import Sealer, is_sealed

PREFIX = "whsec_"
SETTING = "WEBHOOKS_SECRET_ENCRYPTION_KEY"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class SecretBox:
    """Seals secrets at rest when a key is set; without one they are kept plain."""

    def __init__(self, key: str = "") -> None:
        self._sealer = Sealer(key, setting=SETTING) if key else None

    def seal(self, owner: str, secret: str) -> str:
        return self._sealer.seal(owner, secret) if self._sealer is not None else secret

    def open(self, owner: str, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        if self._sealer is None:
            raise ValueError(f"a signing secret is sealed, but {SETTING} is not set")
        return self._sealer.open(owner, stored)
