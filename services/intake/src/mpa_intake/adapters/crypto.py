"""Encryption of personal data at rest, and keyed hashes for duplicate matching.

Envelope encryption (AES-256-GCM, `cryptography`):

* each case has its own random 256-bit data key; the person's record is serialised and
  encrypted with it, a fresh 96-bit nonce per write, the case id as associated data (a
  ciphertext copied onto another case does not decrypt);
* the data key is stored wrapped (AES-256-GCM again, case id and key id as associated data)
  by a master key from configuration, named by a key id kept beside it. Rotation: add a new
  master key and make it active; new wraps use it, old ones still unwrap, and
  `rewrap` moves a case's data key to the active key (`mpa intake rewrap-keys`).
* erasure deletes the wrapped data key and the ciphertext (crypto-shredding). Copies in
  backups, WAL or not yet vacuumed row versions stay unreadable once the master key that
  wrapped them is retired after a rotation.

Matching uses HMAC-SHA256 with its own key, so a stolen database holds no hash that can be
checked against a guessed name without that key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mpa_intake.app.ports import SealedPersonalData, UndecryptableData
from mpa_intake.domain.matching import MatchKind
from mpa_intake.domain.personal_data import PersonalData

__all__ = [
    "KeyConfigurationError",
    "MasterKeyring",
    "MatchKeyer",
    "PersonalDataVault",
    "SealedPersonalData",
    "UndecryptableData",
    "load_or_create_local_key",
    "new_master_key",
    "parse_master_keys",
]

_FORMAT_V1 = b"\x01"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DATA_AAD = b"mpa-intake/personal-data/v1/"
_WRAP_AAD = b"mpa-intake/data-key/v1/"


class KeyConfigurationError(RuntimeError):
    """Master or matching keys are missing or malformed (the message never holds a key)."""


class MasterKeyring:
    """The configured master keys by id, and which one wraps new data keys."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise KeyConfigurationError(f"active master key {active_key_id!r} is not configured")
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id) or len(key) != _KEY_BYTES:
                raise KeyConfigurationError(
                    f"master key {key_id!r} must have a [A-Za-z0-9._-] id and 32 bytes"
                )
        self._keys = dict(keys)
        self.active_key_id = active_key_id

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def wrap(self, case_id: UUID, data_key: bytes) -> tuple[str, bytes]:
        key_id = self.active_key_id
        nonce = os.urandom(_NONCE_BYTES)
        wrapped = AESGCM(self._keys[key_id]).encrypt(nonce, data_key, _wrap_aad(case_id, key_id))
        return key_id, _FORMAT_V1 + nonce + wrapped

    def unwrap(self, case_id: UUID, key_id: str, wrapped: bytes) -> bytes:
        master = self._keys.get(key_id)
        if master is None:
            raise UndecryptableData(f"master key {key_id!r} is not configured")
        return _open(AESGCM(master), wrapped, _wrap_aad(case_id, key_id))


class PersonalDataVault:
    """Seals and opens a case's personal data with its data key."""

    def __init__(self, keyring: MasterKeyring) -> None:
        self.keyring = keyring

    @property
    def active_key_id(self) -> str:
        return self.keyring.active_key_id

    @property
    def key_ids(self) -> frozenset[str]:
        return self.keyring.key_ids

    def seal_new(self, case_id: UUID, person: PersonalData) -> SealedPersonalData:
        """Encrypts with a fresh data key (a new case)."""
        data_key = AESGCM.generate_key(bit_length=256)
        key_id, wrapped = self.keyring.wrap(case_id, data_key)
        return SealedPersonalData(key_id, wrapped, _encrypt(data_key, case_id, person))

    def reseal(
        self, case_id: UUID, sealed: SealedPersonalData, person: PersonalData
    ) -> SealedPersonalData:
        """Encrypts changed data with the case's existing data key and a new nonce."""
        data_key = self.keyring.unwrap(case_id, sealed.master_key_id, sealed.wrapped_data_key)
        return SealedPersonalData(
            sealed.master_key_id, sealed.wrapped_data_key, _encrypt(data_key, case_id, person)
        )

    def open(self, case_id: UUID, sealed: SealedPersonalData) -> PersonalData:
        data_key = self.keyring.unwrap(case_id, sealed.master_key_id, sealed.wrapped_data_key)
        plaintext = _open(AESGCM(data_key), sealed.ciphertext, _DATA_AAD + case_id.bytes)
        return PersonalData.model_validate_json(plaintext)

    def rewrap(self, case_id: UUID, sealed: SealedPersonalData) -> SealedPersonalData:
        """The same data key wrapped by the active master key (the ciphertext is unchanged)."""
        data_key = self.keyring.unwrap(case_id, sealed.master_key_id, sealed.wrapped_data_key)
        key_id, wrapped = self.keyring.wrap(case_id, data_key)
        return SealedPersonalData(key_id, wrapped, sealed.ciphertext)


class MatchKeyer:
    """Keyed hashes (HMAC-SHA256) of matching material and of request bodies."""

    def __init__(self, key: bytes) -> None:
        if len(key) < _KEY_BYTES:
            raise KeyConfigurationError("the matching key must have at least 32 bytes")
        self._key = key

    def match_digest(self, kind: MatchKind, material: str) -> bytes:
        return self._mac(b"match/" + kind.value.encode() + b"\x00" + material.encode())

    def request_digest(self, canonical_body: bytes) -> bytes:
        # Keyed too: a request body holds personal data, and a plain hash could be confirmed
        # by anyone who guesses the body.
        return self._mac(b"request\x00" + canonical_body)

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()


def _wrap_aad(case_id: UUID, key_id: str) -> bytes:
    return _WRAP_AAD + case_id.bytes + key_id.encode()


def _encrypt(data_key: bytes, case_id: UUID, person: PersonalData) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(
        nonce, person.model_dump_json().encode(), _DATA_AAD + case_id.bytes
    )
    return _FORMAT_V1 + nonce + ciphertext


def _open(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    if blob[:1] != _FORMAT_V1:
        raise UndecryptableData("unknown ciphertext format")
    nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        return aead.decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise UndecryptableData("authentication failed") from None


# --- keys from configuration, or local development keys -------------------------------------


def parse_master_keys(text: str) -> dict[str, bytes]:
    """`kid1:base64key,kid2:base64key` -> {kid: key}."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep:
            raise KeyConfigurationError("master keys must be written kid:base64key")
        try:
            keys[key_id] = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise KeyConfigurationError(f"master key {key_id!r} is not valid base64") from None
    return keys


def new_master_key(key_id: str | None = None) -> str:
    """A fresh master key in configuration form: `kid:base64key`."""
    key_id = key_id or f"mk-{secrets.token_hex(4)}"
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def load_or_create_local_key(path: Path, create: str) -> str:
    """A development key stored in `path` (mode 600), created with `create` on first use.

    Several processes may start at once: the file is written aside and linked into place,
    which fails for all but one; the others read the winner's key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        scratch.write_text(create)
        scratch.chmod(0o600)
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                scratch.unlink()
    return path.read_text().strip()
