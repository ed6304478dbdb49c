"""Witness cosignatures of checkpoints (c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``).

A cosignature is one more signature line on the checkpoint note::

    — <witness name> base64(key ID || u64 big-endian timestamp || Ed25519 signature)

with key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4], over the message

    cosignature/v1
    time <timestamp, POSIX seconds>
    <the checkpoint body, every line, extension lines included>

It says: as of that time, the witness had verified that this checkpoint is consistent with
every other checkpoint of the log it had cosigned. A rewritten history therefore gets no
cosignature from an honest witness that saw the original. Pure: keys and times are passed in.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit_verify.note import (
    COSIGNATURE_V1_TYPE,
    ED25519_SIGNATURE_SIZE,
    NoteSignature,
    SignatureVerificationError,
    VerifierKey,
    check_key_name,
    encode_verifier_key,
    key_id,
    parse_signature_lines,
    parse_verifier_key,
    signature_line,
    split_note,
)

HEADER = "cosignature/v1"
MAX_TIMESTAMP = 2**63 - 1
ALLOWED_CLOCK_SKEW_SECONDS = 600
"""Cosignatures dated further than this in the verifier's future are refused."""

_TIMESTAMP = struct.Struct(">Q")


def cosignature_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosigner signs for the checkpoint ``body`` at ``timestamp``."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"timestamp {timestamp} is outside 0..2**63-1")
    return f"{HEADER}\ntime {timestamp}\n{body}".encode()


def cosigner_key(witness_key: Ed25519PrivateKey, name: str) -> VerifierKey:
    """The public half of a witness key, as a cosigner verifier key (type 0x04)."""
    return VerifierKey(name, witness_key.public_key(), COSIGNATURE_V1_TYPE)


def encode_cosigner_key(witness_key: Ed25519PrivateKey, name: str) -> str:
    """The witness's verifier key string, what `mpa audit verify --witness-key` takes."""
    return encode_verifier_key(witness_key.public_key(), name, COSIGNATURE_V1_TYPE)


def parse_cosigner_key(text: str) -> VerifierKey:
    return parse_verifier_key(text, COSIGNATURE_V1_TYPE)


def cosign(body: str, witness_key: Ed25519PrivateKey, name: str, timestamp: int) -> str:
    """The cosignature line (with its newline) of ``name`` on the checkpoint ``body``."""
    check_key_name(name)
    signature = witness_key.sign(cosignature_message(body, timestamp))
    blob = (
        key_id(name, witness_key.public_key(), COSIGNATURE_V1_TYPE)
        + _TIMESTAMP.pack(timestamp)
        + signature
    )
    return signature_line(name, blob)


def add_signature_lines(note: str, lines: str) -> str:
    """``note`` with the signature ``lines`` appended (each once; existing lines kept)."""
    split_note(note)  # a well-formed note, or MalformedNoteError
    present = set(note.split("\n"))
    extra = [line for line in parse_signature_lines(lines) if line.line()[:-1] not in present]
    return note + "".join(signature.line() for signature in extra)


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: which witness vouched for the checkpoint, and when."""

    witness: str
    timestamp: datetime
    line: str


def _matching(signatures: list[NoteSignature], key: VerifierKey) -> list[NoteSignature]:
    expected = key_id(key.name, key.public_key, COSIGNATURE_V1_TYPE)
    return [s for s in signatures if s.key_name == key.name and s.key_id == expected]


def verify_cosignature(
    note: str | bytes, witness: VerifierKey, *, now: datetime | None = None
) -> Cosignature:
    """The cosignature of ``witness`` on the checkpoint ``note``, verified.

    Raises ``SignatureVerificationError`` when the note carries none by that key, or one by it
    fails or is dated in the future (beyond a small clock skew, when ``now`` is given), and
    ``MalformedNoteError`` for a note that does not parse.
    """
    if witness.signature_type != COSIGNATURE_V1_TYPE:
        raise SignatureVerificationError(f"key {witness.name} is not a cosigner (type 0x04) key")
    body, signatures = split_note(note)
    found: Cosignature | None = None
    for signature in _matching(signatures, witness):
        payload = signature.signature
        if len(payload) != _TIMESTAMP.size + ED25519_SIGNATURE_SIZE:
            raise SignatureVerificationError(
                f"cosignature by {witness.name} is {len(payload)} bytes, expected "
                f"{_TIMESTAMP.size + ED25519_SIGNATURE_SIZE}"
            )
        (timestamp,) = _TIMESTAMP.unpack(payload[: _TIMESTAMP.size])
        if timestamp > MAX_TIMESTAMP:
            raise SignatureVerificationError(f"cosignature by {witness.name} has a bad timestamp")
        try:
            witness.public_key.verify(
                payload[_TIMESTAMP.size :], cosignature_message(body, timestamp)
            )
        except InvalidSignature:
            raise SignatureVerificationError(
                f"cosignature by {witness.name} does not match the checkpoint"
            ) from None
        moment = datetime.fromtimestamp(timestamp, UTC)
        if now is not None and timestamp > now.timestamp() + ALLOWED_CLOCK_SKEW_SECONDS:
            raise SignatureVerificationError(
                f"cosignature by {witness.name} is dated {moment.isoformat()}, in the future"
            )
        if found is None or moment > found.timestamp:
            found = Cosignature(witness.name, moment, signature.line())
    if found is None:
        raise SignatureVerificationError(
            f"checkpoint has no cosignature by witness {witness.name} "
            f"(key ID {witness.key_id.hex()})"
        )
    return found


def cosignature_lines(lines: str, witness: VerifierKey) -> list[NoteSignature]:
    """The lines of an add-checkpoint response that are by ``witness`` (others ignored)."""
    return _matching(parse_signature_lines(lines), witness)
