"""Free-text notes of a referral's history, encrypted at rest (AES-256-GCM).

The key comes from REFERRAL_NOTES_KEY (base64 of 32 bytes); outside production a
development key is created under .local/ on first use, as the other services do for
theirs, and production refuses to start without one. Each ciphertext is bound to its
history entry (referral id and event id as associated data), so a row's note cannot be
copied onto another entry. Erasing a case's personal data deletes the ciphertexts.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mpa_common.settings import Environment
from mpa_referral.settings import ReferralSettings

_NONCE_BYTES = 12
_KEY_BYTES = 32


class NoteCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError("the notes key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: ReferralSettings) -> NoteCipher:
        configured = settings.notes_key.get_secret_value()
        if configured:
            try:
                return cls(base64.b64decode(configured, validate=True))
            except (binascii.Error, ValueError) as error:
                raise RuntimeError("REFERRAL_NOTES_KEY must be base64 of 32 bytes") from error
        if settings.environment == Environment.PRODUCTION:
            raise RuntimeError("REFERRAL_NOTES_KEY is required in production")
        return cls(_load_or_create_dev_key(settings.notes_dev_key_file))

    def seal(self, referral_id: uuid.UUID, event_id: uuid.UUID, note: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, note.encode(), referral_id.bytes + event_id.bytes)

    def open(self, referral_id: uuid.UUID, event_id: uuid.UUID, sealed: bytes) -> str:
        try:
            plain = self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], referral_id.bytes + event_id.bytes
            )
        except InvalidTag as error:
            raise RuntimeError(
                "a referral note does not decrypt with the configured key"
            ) from error
        return plain.decode()


def _load_or_create_dev_key(path: Path) -> bytes:
    if path.exists():
        return base64.b64decode(path.read_bytes())
    key = AESGCM.generate_key(bit_length=256)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Created with mode 600 from the start, so the key is never readable by others.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it meanwhile: use that one
        return base64.b64decode(path.read_bytes())
    with os.fdopen(descriptor, "wb") as file:
        file.write(base64.b64encode(key))
    return key
