"""Webhook signing secrets: generated, encrypted at rest (AES-256-GCM), used to sign.

The key comes from NOTIFICATION_SECRETS_KEY (base64 of 32 bytes); outside production a
development key is created under .local/ on first use, as mpa_common.auth does for tokens.
Each ciphertext is bound to its endpoint id (associated data), so a row's secret cannot be
copied onto another endpoint.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mpa_common.paths import resolve_home_path
from mpa_common.settings import Environment
from mpa_notification.settings import NotificationSettings

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
_NONCE_BYTES = 12
_KEY_BYTES = 32
_SECRET_BYTES = 32


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError("the secrets key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: NotificationSettings) -> SecretBox:
        configured = settings.secrets_key.get_secret_value()
        if configured:
            try:
                return cls(base64.b64decode(configured, validate=True))
            except (binascii.Error, ValueError) as error:
                raise RuntimeError("NOTIFICATION_SECRETS_KEY must be base64 of 32 bytes") from error
        if settings.environment == Environment.PRODUCTION:
            raise RuntimeError("NOTIFICATION_SECRETS_KEY is required in production")
        return cls(_load_or_create_dev_key(resolve_home_path(settings.secrets_dev_key_file)))

    def new(self) -> str:
        return new_webhook_secret()

    def seal(self, endpoint_id: uuid.UUID, secret: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), endpoint_id.bytes)

    def open(self, endpoint_id: uuid.UUID, sealed: bytes) -> str:
        try:
            plain = self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], endpoint_id.bytes
            )
        except InvalidTag as error:
            raise RuntimeError(
                "a webhook secret does not decrypt with the configured key"
            ) from error
        return plain.decode()


def _load_or_create_dev_key(path: Path) -> bytes:
    if path.exists():
        return base64.b64decode(path.read_bytes())
    key = AESGCM.generate_key(bit_length=256)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with mode 600 from the start, so the key is never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(base64.b64encode(key))
    return key
