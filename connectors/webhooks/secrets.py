"""Signing secrets: made here (Standard Webhooks `whsec_` + base64 of 32 random bytes) and, with
WEBHOOKS_SECRET_ENCRYPTION_KEY set, stored sealed (AES-256-GCM bound to the subscription id), so a
copy of the database or a backup cannot sign deliveries."""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "whsec_"
_SEALED = "aesgcm:v1:"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class SecretBox:
    """Seals secrets at rest with a 32-byte key (base64url); without a key they are kept plain."""

    def __init__(self, key: str = "") -> None:
        self._aead: AESGCM | None = None
        if key:
            try:
                raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
            except (binascii.Error, ValueError) as exc:
                raise ValueError("WEBHOOKS_SECRET_ENCRYPTION_KEY must be base64url") from exc
            if len(raw) != 32:
                raise ValueError("WEBHOOKS_SECRET_ENCRYPTION_KEY must be 32 bytes (base64url, 43 characters)")
            self._aead = AESGCM(raw)

    def seal(self, owner: str, secret: str) -> str:
        if self._aead is None:
            return secret
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), owner.encode())
        return _SEALED + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, owner: str, stored: str) -> str:
        if not stored.startswith(_SEALED):
            return stored
        if self._aead is None:
            raise ValueError("a signing secret is sealed, but WEBHOOKS_SECRET_ENCRYPTION_KEY is not set")
        blob = base64.urlsafe_b64decode(stored.removeprefix(_SEALED))
        try:
            return self._aead.decrypt(blob[:12], blob[12:], owner.encode()).decode()
        except InvalidTag as exc:
            raise ValueError(f"the secret of {owner} does not open with this encryption key") from exc
