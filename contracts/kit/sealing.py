"""Secrets at rest: AES-256-GCM under a 32-byte key given as base64url, each value bound to its
owner (a key id, a subscription id) so a sealed value moved to another row does not open."""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "aesgcm:v1:"


class Sealer:
    def __init__(self, key: str, *, setting: str = "the key encryption key") -> None:
        """`setting` names the key in errors (e.g. the environment variable that holds it)."""
        try:
            raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{setting} must be base64url") from exc
        if len(raw) != 32:
            raise ValueError(f"{setting} must be 32 bytes (base64url, 43 characters)")
        self._aead = AESGCM(raw)
        self._setting = setting

    @staticmethod
    def new_key() -> str:
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()

    def seal(self, owner: str, plain: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plain.encode(), owner.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, owner: str, stored: str) -> str:
        blob = base64.urlsafe_b64decode(stored.removeprefix(PREFIX))
        try:
            return self._aead.decrypt(blob[:12], blob[12:], owner.encode()).decode()
        except InvalidTag as exc:
            raise ValueError(f"the secret of {owner} does not open with {self._setting}") from exc


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)
