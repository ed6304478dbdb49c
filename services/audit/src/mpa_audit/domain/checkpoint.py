"""Signed tree heads: C2SP tlog-checkpoint bodies in C2SP signed notes, signed with Ed25519.

Checkpoint body (every line ends in a newline)::

    <origin>
    <tree size, ASCII decimal, no leading zeros>
    <root hash, standard base64 with padding>
    timestamp <UTC time, RFC 3339 with exactly six fraction digits and "Z">

The fourth line is this service's one extension line: when the tree head was issued, e.g.
``timestamp 2025-01-31T09:30:00.250000Z``. It has one canonical spelling, so a head
serialises to exactly one body. C2SP discourages extension lines because monitors cannot
audit them: nothing here relies on the timestamp for the tree's integrity, it only records
when the log vouched for that size. Bodies with a missing, different or extra extension line
are rejected: this parser reads this service's checkpoints, not arbitrary logs'.

Signed note: the body, a blank line, then one line per signature::

    — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature over the body)>

with key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]. Verification
ignores signatures by other keys (witness cosignatures, rotated keys), rejects the note if a
signature by the expected key fails, and requires at least one that verifies.

Key formats: the private key travels as PKCS#8 PEM (optionally password-encrypted); the
public key is shared as a signed-note *verifier key* string,
``<key name>+<8 hex digits key ID>+<base64(0x01 || 32-byte public key)>``, which binds the key
to its name and is what Go's sumdb/note and C2SP witnesses read. Pure: keys are passed in;
nothing reads files or clocks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpa_audit.domain.merkle import HASH_SIZE

ED25519_SIGNATURE_TYPE = 0x01
"""Signed-note signature type byte for Ed25519."""

TIMESTAMP_EXTENSION = "timestamp"
"""Keyword that starts the checkpoint's timestamp extension line."""

MAX_TREE_SIZE = 2**64 - 1
"""RFC 6962 tree sizes are uint64."""

MAX_NOTE_BYTES = 1 << 20
"""Notes larger than this are refused before parsing (C2SP asks verifiers for a limit)."""

MAX_SIGNATURES = 100
"""Signature lines accepted in one note (C2SP requires at least 16)."""

_SIGNATURE_LINE_PREFIX = "\u2014 "  # em dash, space
_ED25519_SIGNATURE_SIZE = 64
_KEY_ID_SIZE = 4
_TREE_SIZE_PATTERN = re.compile(r"0|[1-9][0-9]*")
_TIMESTAMP_PATTERN = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z"
)


class CheckpointError(ValueError):
    """A signed tree head, note or key could not be produced, parsed or trusted."""


class MalformedNoteError(CheckpointError):
    """The note or checkpoint body does not follow the format."""


class SignatureVerificationError(CheckpointError):
    """No valid signature by the expected key, or a signature by it failed."""


class InvalidKeyError(CheckpointError):
    """A key or key string is not a usable Ed25519 key."""


def _has_control_character(text: str) -> bool:
    return any(ord(character) < 0x20 and character != "\n" for character in text)


def _encode_utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise MalformedNoteError(f"{what} is not valid Unicode text: {error}") from None


def _check_key_name(key_name: str) -> None:
    if not key_name or any(c.isspace() or c == "+" for c in key_name):
        raise InvalidKeyError(f"key name {key_name!r} must be non-empty, without spaces or '+'")
    if _has_control_character(key_name):
        raise InvalidKeyError(f"key name {key_name!r} contains a control character")


def _format_timestamp(moment: datetime) -> str:
    # Hand-formatted: strftime("%Y") does not zero-pad years below 1000 on every platform.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


def _parse_timestamp(text: str) -> datetime:
    match = _TIMESTAMP_PATTERN.fullmatch(text)
    if match is None:
        raise MalformedNoteError(f"timestamp {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        year, month, day, hour, minute, second, microsecond = map(int, match.groups())
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)
    except ValueError as error:
        raise MalformedNoteError(f"timestamp {text!r} is not a valid time: {error}") from None


def _strict_base64(text: str, what: str) -> bytes:
    try:
        decoded = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise MalformedNoteError(f"{what} is not valid base64: {error}") from None
    # Reject alternative spellings (stray padding bits) so each value has one encoding.
    if base64.b64encode(decoded).decode("ascii") != text:
        raise MalformedNoteError(f"{what} is not canonical base64")
    return decoded


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The log's statement "at ``timestamp`` my tree of ``tree_size`` leaves has this root".

    ``origin`` names the log (a schema-less URL such as ``audit.mpa.example/log``).
    ``timestamp`` must be timezone-aware; it is stored in UTC.
    """

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime

    def __post_init__(self) -> None:
        if not self.origin or any(c.isspace() or c == "+" for c in self.origin):
            raise ValueError(f"origin {self.origin!r} must be non-empty, without spaces or '+'")
        if _has_control_character(self.origin):
            raise ValueError(f"origin {self.origin!r} contains a control character")
        if not 0 <= self.tree_size <= MAX_TREE_SIZE:
            raise ValueError(f"tree size {self.tree_size} is outside 0..2**64-1")
        if len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"root hash must be {HASH_SIZE} bytes, got {len(self.root_hash)}")
        if self.timestamp.utcoffset() is None:
            raise ValueError("timestamp must be timezone-aware")
        if self.timestamp.tzinfo is not UTC:
            object.__setattr__(self, "timestamp", self.timestamp.astimezone(UTC))


def checkpoint_body(head: TreeHead) -> str:
    """The note text of a tree head: the C2SP tlog-checkpoint lines plus the timestamp line."""
    root = base64.b64encode(head.root_hash).decode("ascii")
    return (
        f"{head.origin}\n{head.tree_size}\n{root}\n"
        f"{TIMESTAMP_EXTENSION} {_format_timestamp(head.timestamp)}\n"
    )


def parse_checkpoint_body(text: str) -> TreeHead:
    """Read a body written by ``checkpoint_body``; raises ``MalformedNoteError`` otherwise."""
    if not text.endswith("\n"):
        raise MalformedNoteError("checkpoint body must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedNoteError(f"checkpoint body needs at least 3 lines, got {len(lines)}")
    origin, size_line, root_line, *extensions = lines
    if not _TREE_SIZE_PATTERN.fullmatch(size_line):
        raise MalformedNoteError(f"tree size {size_line!r} is not a decimal without leading zeros")
    root = _strict_base64(root_line, "root hash")
    if len(extensions) != 1:
        raise MalformedNoteError(
            f"expected exactly one extension line (the timestamp), got {len(extensions)}"
        )
    keyword, _, value = extensions[0].partition(" ")
    if keyword != TIMESTAMP_EXTENSION:
        raise MalformedNoteError(f"unknown extension line {extensions[0]!r}")
    timestamp = _parse_timestamp(value)
    try:
        return TreeHead(origin, int(size_line), root, timestamp)
    except ValueError as error:
        raise MalformedNoteError(str(error)) from None


def key_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte signed-note key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    material = key_name.encode() + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + raw
    return hashlib.sha256(material).digest()[:_KEY_ID_SIZE]


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """A signed note: ``text`` (ending in a newline), a blank line, one Ed25519 signature line."""
    _check_key_name(key_name)
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if _has_control_character(text):
        raise MalformedNoteError("note text must not contain control characters other than \\n")
    signature = private_key.sign(_encode_utf8(text, "note text"))
    blob = key_id(key_name, private_key.public_key()) + signature
    encoded = base64.b64encode(blob).decode("ascii")
    return f"{text}\n{_SIGNATURE_LINE_PREFIX}{key_name} {encoded}\n"


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(_SIGNATURE_LINE_PREFIX):
        raise MalformedNoteError(f"signature line {line!r} does not start with an em dash")
    parts = line[len(_SIGNATURE_LINE_PREFIX) :].split(" ")
    if len(parts) != 2:
        raise MalformedNoteError(f"signature line {line!r} is not '— <name> <signature>'")
    name, encoded = parts
    try:
        _check_key_name(name)
    except InvalidKeyError as error:
        raise MalformedNoteError(str(error)) from None
    blob = _strict_base64(encoded, f"signature of {name!r}")
    if len(blob) <= _KEY_ID_SIZE:
        raise MalformedNoteError(f"signature of {name!r} is too short to hold a key ID")
    return name, blob


def open_note(note: str | bytes, public_key: Ed25519PublicKey, key_name: str) -> str:
    """The text of ``note`` once a signature by ``key_name``/``public_key`` verifies.

    Raises ``MalformedNoteError`` for a note that does not parse and
    ``SignatureVerificationError`` if no signature by the key verifies or one by it fails.
    """
    _check_key_name(key_name)
    raw = _encode_utf8(note, "note") if isinstance(note, str) else note
    if len(raw) > MAX_NOTE_BYTES:
        raise MalformedNoteError(f"note exceeds {MAX_NOTE_BYTES} bytes")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedNoteError(f"note is not UTF-8: {error}") from None
    if _has_control_character(decoded):
        raise MalformedNoteError("note contains control characters other than \\n")
    if not decoded.endswith("\n"):
        raise MalformedNoteError("note must end with a newline")
    # The text ends at the note's last blank line (the text itself may hold blank lines).
    separator = decoded.rfind("\n\n")
    if separator < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text = decoded[: separator + 1]
    signature_block = decoded[separator + 2 :]
    signature_lines = signature_block[:-1].split("\n") if signature_block else []
    if not signature_lines:
        raise MalformedNoteError("note has no signature lines")
    if len(signature_lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")

    expected_id = key_id(key_name, public_key)
    message = text.encode()
    verified = False
    for line in signature_lines:
        name, blob = _parse_signature_line(line)
        if name != key_name or blob[:_KEY_ID_SIZE] != expected_id:
            continue  # another key's signature (a witness, a rotated key): not ours to judge
        signature = blob[_KEY_ID_SIZE:]
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            raise SignatureVerificationError(
                f"signature by {key_name} is {len(signature)} bytes, "
                f"expected {_ED25519_SIGNATURE_SIZE}"
            )
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            raise SignatureVerificationError(
                f"signature by {key_name} does not match the note text"
            ) from None
        verified = True
    if not verified:
        raise SignatureVerificationError(
            f"note has no signature by key {key_name} (key ID {expected_id.hex()})"
        )
    return text


def sign_tree_head(head: TreeHead, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """The tree head as a signed checkpoint note."""
    return sign_note(checkpoint_body(head), private_key, key_name)


def verify_signed_tree_head(
    note_text: str | bytes,
    public_key: Ed25519PublicKey,
    key_name: str,
    *,
    origin: str | None = None,
) -> TreeHead:
    """The tree head in a checkpoint note signed by ``key_name``/``public_key``.

    With ``origin`` given, a checkpoint naming another log is rejected too (the same key
    could sign for several logs). Raises a ``CheckpointError`` subclass on any failure.
    """
    head = parse_checkpoint_body(open_note(note_text, public_key, key_name))
    if origin is not None and head.origin != origin:
        raise SignatureVerificationError(
            f"checkpoint is for origin {head.origin!r}, expected {origin!r}"
        )
    return head


class VerifierKey(NamedTuple):
    """A public key with the name it signs under."""

    name: str
    public_key: Ed25519PublicKey


def encode_verifier_key(public_key: Ed25519PublicKey, key_name: str) -> str:
    """The signed-note verifier key string ``<name>+<key ID hex>+<base64(0x01 || key)>``."""
    _check_key_name(key_name)
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    material = base64.b64encode(bytes([ED25519_SIGNATURE_TYPE]) + raw).decode("ascii")
    return f"{key_name}+{key_id(key_name, public_key).hex()}+{material}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Read a verifier key string; its key ID must match its name and key."""
    # The name holds no '+', the base64 may: split only twice.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise InvalidKeyError("verifier key must be '<name>+<key ID>+<base64 key>'")
    name, id_hex, encoded = parts
    _check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise InvalidKeyError(f"key ID {id_hex!r} is not 8 lowercase hex digits")
    try:
        material = _strict_base64(encoded, "verifier key")
    except MalformedNoteError as error:
        raise InvalidKeyError(str(error)) from None
    if len(material) != 1 + 32 or material[0] != ED25519_SIGNATURE_TYPE:
        raise InvalidKeyError("verifier key is not an Ed25519 (type 0x01) key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(material[1:])
    except ValueError as error:
        raise InvalidKeyError(f"verifier key is not a valid Ed25519 key: {error}") from None
    if key_id(name, public_key).hex() != id_hex:
        raise InvalidKeyError(f"key ID {id_hex} does not match name {name!r} and key")
    return VerifierKey(name, public_key)


def private_key_to_pem(private_key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM of the signing key, encrypted when a password is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key_pem(pem: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """The Ed25519 signing key in a PKCS#8 PEM; any other key type is refused."""
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise InvalidKeyError(f"cannot load private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidKeyError(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key
