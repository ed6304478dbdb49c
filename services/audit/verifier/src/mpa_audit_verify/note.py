"""C2SP signed notes (c2sp.org/signed-note): text, a blank line, one line per signature.

    <text, every line ending in a newline>

    — <key name> <base64(4-byte key ID || signature)>
    — <another key name> <...>

with key ID = SHA-256(key name || 0x0A || signature type || public key)[:4]. Signature
type 0x01 is a plain Ed25519 signature over the text (what the log signs its checkpoints
with); 0x04 is a timestamped Ed25519 checkpoint cosignature (a witness's, see
`cosignature.py`). Verification ignores signatures by keys it was not given (witnesses,
rotated keys), rejects the note if a signature by the expected key fails, and requires at
least one that verifies.

Key formats: a private key travels as PKCS#8 PEM (optionally password-encrypted); a public key
is shared as a signed-note *verifier key* string,
``<key name>+<8 hex digits key ID>+<base64(signature type || 32-byte public key)>``, which binds
the key to its name and type and is what Go's sumdb/note and C2SP witnesses read. Pure: keys
are passed in; nothing reads files or clocks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_SIGNATURE_TYPE = 0x01
"""Signed-note signature type byte for Ed25519."""

COSIGNATURE_V1_TYPE = 0x04
"""Signed-note signature type byte for timestamped Ed25519 checkpoint cosignatures."""

MAX_NOTE_BYTES = 1 << 20
"""Notes larger than this are refused before parsing (C2SP asks verifiers for a limit)."""

MAX_SIGNATURES = 100
"""Signature lines accepted in one note (C2SP requires at least 16)."""

SIGNATURE_LINE_PREFIX = "\u2014 "  # em dash, space
ED25519_SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4


class CheckpointError(ValueError):
    """A signed tree head, note or key could not be produced, parsed or trusted."""


class MalformedNoteError(CheckpointError):
    """The note or checkpoint body does not follow the format."""


class SignatureVerificationError(CheckpointError):
    """No valid signature by the expected key, or a signature by it failed."""


class InvalidKeyError(CheckpointError):
    """A key or key string is not a usable Ed25519 key."""


def has_control_character(text: str) -> bool:
    return any(ord(character) < 0x20 and character != "\n" for character in text)


def encode_utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise MalformedNoteError(f"{what} is not valid Unicode text: {error}") from None


def check_key_name(key_name: str) -> None:
    if not key_name or any(c.isspace() or c == "+" for c in key_name):
        raise InvalidKeyError(f"key name {key_name!r} must be non-empty, without spaces or '+'")
    if has_control_character(key_name):
        raise InvalidKeyError(f"key name {key_name!r} contains a control character")


def strict_base64(text: str, what: str) -> bytes:
    try:
        decoded = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise MalformedNoteError(f"{what} is not valid base64: {error}") from None
    # Reject alternative spellings (stray padding bits) so each value has one encoding.
    if base64.b64encode(decoded).decode("ascii") != text:
        raise MalformedNoteError(f"{what} is not canonical base64")
    return decoded


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(
    key_name: str, public_key: Ed25519PublicKey, signature_type: int = ED25519_SIGNATURE_TYPE
) -> bytes:
    """The 4-byte signed-note key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    material = key_name.encode() + b"\n" + bytes([signature_type]) + _raw(public_key)
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def signature_line(key_name: str, blob: bytes) -> str:
    """One note signature line (with its newline)."""
    return f"{SIGNATURE_LINE_PREFIX}{key_name} {base64.b64encode(blob).decode('ascii')}\n"


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """A signed note: ``text`` (ending in a newline), a blank line, one Ed25519 signature line."""
    check_key_name(key_name)
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if has_control_character(text):
        raise MalformedNoteError("note text must not contain control characters other than \\n")
    signature = private_key.sign(encode_utf8(text, "note text"))
    blob = key_id(key_name, private_key.public_key()) + signature
    return f"{text}\n{signature_line(key_name, blob)}"


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a note: the key name and the decoded key ID || signature."""

    key_name: str
    blob: bytes

    @property
    def key_id(self) -> bytes:
        return self.blob[:KEY_ID_SIZE]

    @property
    def signature(self) -> bytes:
        return self.blob[KEY_ID_SIZE:]

    def line(self) -> str:
        return signature_line(self.key_name, self.blob)


def parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_LINE_PREFIX):
        raise MalformedNoteError(f"signature line {line!r} does not start with an em dash")
    parts = line[len(SIGNATURE_LINE_PREFIX) :].split(" ")
    if len(parts) != 2:
        raise MalformedNoteError(f"signature line {line!r} is not '— <name> <signature>'")
    name, encoded = parts
    try:
        check_key_name(name)
    except InvalidKeyError as error:
        raise MalformedNoteError(str(error)) from None
    blob = strict_base64(encoded, f"signature of {name!r}")
    if len(blob) <= KEY_ID_SIZE:
        raise MalformedNoteError(f"signature of {name!r} is too short to hold a key ID")
    return NoteSignature(name, blob)


def parse_signature_lines(block: str) -> list[NoteSignature]:
    """Signature lines, each ending in a newline (a note's signature block, or a witness's
    add-checkpoint response)."""
    if block and not block.endswith("\n"):
        raise MalformedNoteError("signature lines must end with a newline")
    lines = block[:-1].split("\n") if block else []
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return [parse_signature_line(line) for line in lines]


def split_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """The text of a note and its signature lines, checked for form (not for validity)."""
    raw = encode_utf8(note, "note") if isinstance(note, str) else note
    if len(raw) > MAX_NOTE_BYTES:
        raise MalformedNoteError(f"note exceeds {MAX_NOTE_BYTES} bytes")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedNoteError(f"note is not UTF-8: {error}") from None
    if has_control_character(decoded):
        raise MalformedNoteError("note contains control characters other than \\n")
    if not decoded.endswith("\n"):
        raise MalformedNoteError("note must end with a newline")
    # The text ends at the note's last blank line (the text itself may hold blank lines).
    separator = decoded.rfind("\n\n")
    if separator < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text = decoded[: separator + 1]
    signatures = parse_signature_lines(decoded[separator + 2 :])
    if not signatures:
        raise MalformedNoteError("note has no signature lines")
    return text, signatures


def open_note(note: str | bytes, public_key: Ed25519PublicKey, key_name: str) -> str:
    """The text of ``note`` once a signature by ``key_name``/``public_key`` verifies.

    Raises ``MalformedNoteError`` for a note that does not parse and
    ``SignatureVerificationError`` if no signature by the key verifies or one by it fails.
    """
    check_key_name(key_name)
    text, signatures = split_note(note)
    expected_id = key_id(key_name, public_key)
    message = text.encode()
    verified = False
    for signature in signatures:
        if signature.key_name != key_name or signature.key_id != expected_id:
            continue  # another key's signature (a witness, a rotated key): not ours to judge
        if len(signature.signature) != ED25519_SIGNATURE_SIZE:
            raise SignatureVerificationError(
                f"signature by {key_name} is {len(signature.signature)} bytes, "
                f"expected {ED25519_SIGNATURE_SIZE}"
            )
        try:
            public_key.verify(signature.signature, message)
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


class VerifierKey(NamedTuple):
    """A public key with the name it signs under (and its signed-note signature type)."""

    name: str
    public_key: Ed25519PublicKey
    signature_type: int = ED25519_SIGNATURE_TYPE

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key, self.signature_type)

    def encode(self) -> str:
        return encode_verifier_key(self.public_key, self.name, self.signature_type)


def encode_verifier_key(
    public_key: Ed25519PublicKey, key_name: str, signature_type: int = ED25519_SIGNATURE_TYPE
) -> str:
    """The signed-note verifier key string ``<name>+<key ID hex>+<base64(type || key)>``."""
    check_key_name(key_name)
    material = base64.b64encode(bytes([signature_type]) + _raw(public_key)).decode("ascii")
    return f"{key_name}+{key_id(key_name, public_key, signature_type).hex()}+{material}"


def parse_verifier_key(text: str, signature_type: int = ED25519_SIGNATURE_TYPE) -> VerifierKey:
    """Read a verifier key string of ``signature_type``; its key ID must match its name and
    key."""
    # The name holds no '+', the base64 may: split only twice.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise InvalidKeyError("verifier key must be '<name>+<key ID>+<base64 key>'")
    name, id_hex, encoded = parts
    check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise InvalidKeyError(f"key ID {id_hex!r} is not 8 lowercase hex digits")
    try:
        material = strict_base64(encoded, "verifier key")
    except MalformedNoteError as error:
        raise InvalidKeyError(str(error)) from None
    if len(material) != 1 + 32 or material[0] != signature_type:
        raise InvalidKeyError(
            f"verifier key is not an Ed25519 (type 0x{signature_type:02x}) key"
            + (" (a witness's cosigner key is type 0x04)" if material[:1] == b"\x04" else "")
        )
    try:
        public_key = Ed25519PublicKey.from_public_bytes(material[1:])
    except ValueError as error:
        raise InvalidKeyError(f"verifier key is not a valid Ed25519 key: {error}") from None
    if key_id(name, public_key, signature_type).hex() != id_hex:
        raise InvalidKeyError(f"key ID {id_hex} does not match name {name!r} and key")
    return VerifierKey(name, public_key, signature_type)


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
