"""Signed tree heads: checkpoint body format, signed-note signing/verification, key formats."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from mpa_audit_verify.checkpoint import (
    TreeHead,
    checkpoint_body,
    parse_checkpoint_body,
    sign_tree_head,
    verify_signed_tree_head,
)
from mpa_audit_verify.hashing import leaf_hash
from mpa_audit_verify.note import (
    MAX_SIGNATURES,
    CheckpointError,
    InvalidKeyError,
    MalformedNoteError,
    SignatureVerificationError,
    encode_verifier_key,
    key_id,
    load_private_key_pem,
    open_note,
    parse_verifier_key,
    private_key_to_pem,
    sign_note,
)

# The example of golang.org/x/mod/sumdb/note's documentation: an independent implementation's
# keys and output. Ed25519 is deterministic, so signing must reproduce it byte for byte.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
    "ngotpRZb6KE6RyyBwJnAM=\n"
)
# A verifier key from transparency-dev/formats' tests whose base64 contains a '+'.
PLUS_VERIFIER_KEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"

ORIGIN = "audit.mpa.example/log"
KEY_NAME = ORIGIN
HEAD = TreeHead(
    origin=ORIGIN,
    tree_size=1_234_567,
    root_hash=leaf_hash(b"root"),
    timestamp=datetime(2025, 1, 31, 9, 30, 0, 250_000, tzinfo=UTC),
)


def go_private_key() -> Ed25519PrivateKey:
    # The base64 part may itself contain '+': split off the four fixed fields only.
    encoded = GO_SIGNER_KEY.split("+", 4)[4]
    material = base64.b64decode(encoded)
    assert material[0] == 0x01
    return Ed25519PrivateKey.from_private_bytes(material[1:])


@pytest.fixture(scope="module")
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture(scope="module")
def signed(private_key: Ed25519PrivateKey) -> str:
    return sign_tree_head(HEAD, private_key, KEY_NAME)


def split_note(note: str) -> tuple[str, str]:
    """(body, signature lines) of a note with one blank separator line."""
    body, _, signatures = note.rpartition("\n\n")
    return body + "\n", signatures


# --- interoperability with Go's sumdb/note ------------------------------------------------


def test_signing_reproduces_the_go_sumdb_note_example() -> None:
    assert sign_note(GO_TEXT, go_private_key(), "PeterNeumann") == GO_NOTE


def test_go_verifier_key_is_read_and_written_identically() -> None:
    verifier = parse_verifier_key(GO_VERIFIER_KEY)
    assert verifier.name == "PeterNeumann"
    assert encode_verifier_key(verifier.public_key, verifier.name) == GO_VERIFIER_KEY
    assert encode_verifier_key(go_private_key().public_key(), "PeterNeumann") == GO_VERIFIER_KEY
    assert key_id("PeterNeumann", verifier.public_key).hex() == "c74f20a3"


def test_go_note_opens_and_a_changed_text_does_not() -> None:
    verifier = parse_verifier_key(GO_VERIFIER_KEY)
    assert open_note(GO_NOTE, verifier.public_key, verifier.name) == GO_TEXT
    assert open_note(GO_NOTE.encode(), verifier.public_key, verifier.name) == GO_TEXT
    changed = GO_NOTE.replace("cryptography", "cryptographY")
    with pytest.raises(SignatureVerificationError, match="does not match"):
        open_note(changed, verifier.public_key, verifier.name)


def test_verifier_key_whose_base64_contains_a_plus() -> None:
    verifier = parse_verifier_key(PLUS_VERIFIER_KEY)
    assert verifier.name == "TEST"
    assert encode_verifier_key(verifier.public_key, "TEST") == PLUS_VERIFIER_KEY


# --- checkpoint body ---------------------------------------------------------------------


def test_checkpoint_body_is_the_c2sp_lines_plus_a_timestamp_line() -> None:
    root = base64.b64encode(HEAD.root_hash).decode()
    assert checkpoint_body(HEAD) == (
        f"audit.mpa.example/log\n1234567\n{root}\ntimestamp 2025-01-31T09:30:00.250000Z\n"
    )
    assert parse_checkpoint_body(checkpoint_body(HEAD)) == HEAD


def test_empty_tree_and_early_years_round_trip() -> None:
    head = TreeHead(ORIGIN, 0, bytes(32), datetime(987, 6, 5, tzinfo=UTC))
    body = checkpoint_body(head)
    assert "\n0\n" in body
    assert body.endswith("timestamp 0987-06-05T00:00:00.000000Z\n")
    assert parse_checkpoint_body(body) == head


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("o\n1\n" + "A" * 43 + "=\ntimestamp 2025-01-31T09:30:00.000000Z", "end with a newline"),
        ("o\n1\n", "at least 3 lines"),
        ("o\n01\nAAAA\ntimestamp 2025-01-31T09:30:00.000000Z\n", "leading zeros"),
        ("o\n-1\nAAAA\ntimestamp 2025-01-31T09:30:00.000000Z\n", "leading zeros"),
        ("o\n1\nAAA\ntimestamp 2025-01-31T09:30:00.000000Z\n", "not valid base64"),
        ("o\n1\nAB==\ntimestamp 2025-01-31T09:30:00.000000Z\n", "not canonical base64"),
        ("o\n1\nAAAA\ntimestamp 2025-01-31T09:30:00.000000Z\n", "32 bytes"),
        ("o\n1\n" + "A" * 43 + "=\n", "exactly one extension line"),
        ("o\n1\n" + "A" * 43 + "=\ntimestamp 2025-01-31T09:30:00.000000Z\nx\n", "exactly one"),
        ("o\n1\n" + "A" * 43 + "=\nsigned-at 2025-01-31T09:30:00.000000Z\n", "unknown extension"),
        ("o\n1\n" + "A" * 43 + "=\ntimestamp 2025-01-31T09:30:00Z\n", "YYYY-MM-DD"),
        ("o\n1\n" + "A" * 43 + "=\ntimestamp 2025-01-31 09:30:00.000000Z\n", "YYYY-MM-DD"),
        ("o\n1\n" + "A" * 43 + "=\ntimestamp 2025-02-30T09:30:00.000000Z\n", "not a valid time"),
        ("o\n1\n" + "A" * 43 + "=\ntimestamp 2025-01-31T09:30:00.000000+01:00\n", "YYYY-MM-DD"),
        ("\n1\n" + "A" * 43 + "=\ntimestamp 2025-01-31T09:30:00.000000Z\n", "origin"),
        (f"o\n{2**64}\n" + "A" * 43 + "=\ntimestamp 2025-01-31T09:30:00.000000Z\n", "outside"),
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str, reason: str) -> None:
    with pytest.raises(MalformedNoteError, match=reason):
        parse_checkpoint_body(body)


def test_tree_head_validates_its_fields() -> None:
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        TreeHead(ORIGIN, 1, bytes(32), datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="32 bytes"):
        TreeHead(ORIGIN, 1, bytes(31), moment)
    with pytest.raises(ValueError, match="outside"):
        TreeHead(ORIGIN, -1, bytes(32), moment)
    with pytest.raises(ValueError, match="outside"):
        TreeHead(ORIGIN, 2**64, bytes(32), moment)
    for origin in ["", "two words", "a+b", "line\nbreak", "tab\there"]:
        with pytest.raises(ValueError, match="origin"):
            TreeHead(origin, 1, bytes(32), moment)
    # Any aware time is kept as the same instant in UTC.
    local = datetime(2025, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    head = TreeHead(ORIGIN, 1, bytes(32), local)
    assert head.timestamp == local
    assert head.timestamp.tzinfo is UTC
    assert head.timestamp.hour == 8


# --- signing and verifying tree heads ------------------------------------------------------


def test_signed_tree_head_round_trip(private_key: Ed25519PrivateKey, signed: str) -> None:
    body, signatures = split_note(signed)
    assert body == checkpoint_body(HEAD)
    assert signatures.startswith(f"\u2014 {KEY_NAME} ")
    assert signed.count("\n\u2014 ") == 1
    assert verify_signed_tree_head(signed, private_key.public_key(), KEY_NAME) == HEAD
    public_key = private_key.public_key()
    assert verify_signed_tree_head(signed, public_key, KEY_NAME, origin=ORIGIN) == HEAD


ALTERED_HEADS = {
    "origin": replace(HEAD, origin="audit.mpa.example/other"),
    "size": replace(HEAD, tree_size=HEAD.tree_size + 1),
    "smaller size": replace(HEAD, tree_size=HEAD.tree_size - 1),
    "root": replace(HEAD, root_hash=bytes([HEAD.root_hash[0] ^ 1]) + HEAD.root_hash[1:]),
    "timestamp": replace(HEAD, timestamp=HEAD.timestamp + timedelta(microseconds=1)),
}


@pytest.mark.parametrize("field", sorted(ALTERED_HEADS))
def test_altered_tree_head_is_rejected(
    private_key: Ed25519PrivateKey, signed: str, field: str
) -> None:
    _, signatures = split_note(signed)
    forged = checkpoint_body(ALTERED_HEADS[field]) + "\n" + signatures
    assert forged != signed
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verify_signed_tree_head(forged, private_key.public_key(), KEY_NAME)


def test_wrong_key_or_key_name_is_rejected(private_key: Ed25519PrivateKey, signed: str) -> None:
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    with pytest.raises(SignatureVerificationError, match="no signature by key"):
        verify_signed_tree_head(signed, other.public_key(), KEY_NAME)
    with pytest.raises(SignatureVerificationError, match="no signature by key"):
        verify_signed_tree_head(signed, private_key.public_key(), "audit.mpa.example/other")
    # Another key claiming our name and key ID is verified, and fails.
    _, signatures = split_note(signed)
    blob = base64.b64decode(signatures.split(" ")[2])
    impostor = blob[:4] + other.sign(checkpoint_body(HEAD).encode())
    forged = checkpoint_body(HEAD) + f"\n\u2014 {KEY_NAME} {base64.b64encode(impostor).decode()}\n"
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verify_signed_tree_head(forged, private_key.public_key(), KEY_NAME)


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 8, 40, 88])
def test_truncated_signature_is_rejected(
    private_key: Ed25519PrivateKey, signed: str, cut: int
) -> None:
    truncated = signed[: -1 - cut] + "\n"
    with pytest.raises(CheckpointError):
        verify_signed_tree_head(truncated, private_key.public_key(), KEY_NAME)


def test_signature_truncated_to_whole_bytes_is_rejected(
    private_key: Ed25519PrivateKey, signed: str
) -> None:
    body, signatures = split_note(signed)
    blob = base64.b64decode(signatures.split(" ")[2])
    for length in (67, 36, 5):
        short = base64.b64encode(blob[:length]).decode()
        note = body + f"\n\u2014 {KEY_NAME} {short}\n"
        with pytest.raises(SignatureVerificationError, match=f"is {length - 4} bytes"):
            verify_signed_tree_head(note, private_key.public_key(), KEY_NAME)


def test_other_signers_are_ignored_but_a_failing_own_signature_rejects(
    private_key: Ed25519PrivateKey, signed: str
) -> None:
    witness = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
    cosigned_line = split_note(sign_note(checkpoint_body(HEAD), witness, "witness.example/w1"))[1]
    cosigned = signed + cosigned_line
    assert verify_signed_tree_head(cosigned, private_key.public_key(), KEY_NAME) == HEAD
    # Only the witness signed: the log's own signature is required.
    witness_only = checkpoint_body(HEAD) + "\n" + cosigned_line
    with pytest.raises(SignatureVerificationError, match="no signature by key"):
        verify_signed_tree_head(witness_only, private_key.public_key(), KEY_NAME)
    # A second line by our key that fails spoils the note even though the first verifies.
    _, own_line = split_note(signed)
    name_and_blob = own_line.rstrip("\n").split(" ")
    blob = bytearray(base64.b64decode(name_and_blob[2]))
    blob[-1] ^= 1
    bad_line = f"\u2014 {KEY_NAME} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verify_signed_tree_head(signed + bad_line, private_key.public_key(), KEY_NAME)


def test_checkpoint_for_another_origin_is_rejected(
    private_key: Ed25519PrivateKey, signed: str
) -> None:
    with pytest.raises(SignatureVerificationError, match="origin"):
        verify_signed_tree_head(signed, private_key.public_key(), KEY_NAME, origin="x.example/log")


def test_validly_signed_but_malformed_body_is_rejected(private_key: Ed25519PrivateKey) -> None:
    body = checkpoint_body(HEAD).replace("\ntimestamp ", "\nsigned-at ")
    note = sign_note(body, private_key, KEY_NAME)
    assert open_note(note, private_key.public_key(), KEY_NAME) == body
    with pytest.raises(MalformedNoteError, match="unknown extension"):
        verify_signed_tree_head(note, private_key.public_key(), KEY_NAME)


def _replace_signature_line(note: str, line: str) -> str:
    body, _ = split_note(note)
    return body + "\n" + line + "\n"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda note: note[:-1], "end with a newline"),
        (lambda note: note.replace("\n\n", "\n"), "no blank line"),
        (lambda note: split_note(note)[0] + "\n", "no blank line|no signature lines"),
        (lambda note: note + "\n", "no signature lines"),
        (lambda note: note.replace("log\n", "log\r\n", 1), "control characters"),
        (lambda note: note.replace("\u2014 ", "-- "), "em dash"),
        (lambda note: note.replace("\u2014 ", "\u2014  "), "not '"),
        (lambda note: note[:-1] + " extra\n", "not '"),
        (lambda note: note.replace(f"\u2014 {KEY_NAME} ", f"\u2014 {KEY_NAME} !"), "base64"),
        (lambda note: _replace_signature_line(note, f"\u2014 {KEY_NAME} AAAA"), "too short"),
        (lambda note: _replace_signature_line(note, "\u2014 a+b AAAAAAAA"), "key name"),
        (
            lambda note: note + f"\u2014 w {'A' * 8}\n" * MAX_SIGNATURES,
            f"more than {MAX_SIGNATURES} signatures",
        ),
        (lambda note: "x" * (1 << 20) + note, "exceeds"),
    ],
)
def test_malformed_notes_are_rejected(
    private_key: Ed25519PrivateKey, signed: str, mangle: Callable[[str], str], reason: str
) -> None:
    with pytest.raises(MalformedNoteError, match=reason):
        verify_signed_tree_head(mangle(signed), private_key.public_key(), KEY_NAME)


def test_note_bytes_must_be_utf8(private_key: Ed25519PrivateKey, signed: str) -> None:
    assert verify_signed_tree_head(signed.encode(), private_key.public_key(), KEY_NAME) == HEAD
    with pytest.raises(MalformedNoteError, match="UTF-8"):
        verify_signed_tree_head(b"\xff" + signed.encode(), private_key.public_key(), KEY_NAME)
    with pytest.raises(MalformedNoteError, match="Unicode"):
        verify_signed_tree_head("\ud800" + signed, private_key.public_key(), KEY_NAME)


def test_sign_note_refuses_text_it_could_not_round_trip(private_key: Ed25519PrivateKey) -> None:
    with pytest.raises(MalformedNoteError, match="end with a newline"):
        sign_note("no newline", private_key, KEY_NAME)
    with pytest.raises(MalformedNoteError, match="control characters"):
        sign_note("bell\a\n", private_key, KEY_NAME)
    for name in ["", "has space", "has+plus", "nbsp\u00a0name"]:
        with pytest.raises(InvalidKeyError, match="key name"):
            sign_note("text\n", private_key, name)


# --- key formats -------------------------------------------------------------------------


def test_private_key_pem_round_trip(private_key: Ed25519PrivateKey) -> None:
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pem = private_key_to_pem(private_key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key_pem(pem)
    assert loaded.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()) == raw

    encrypted = private_key_to_pem(private_key, password=b"correct horse")
    assert encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    decrypted = load_private_key_pem(encrypted, password=b"correct horse")
    assert decrypted.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()) == raw
    with pytest.raises(InvalidKeyError):
        load_private_key_pem(encrypted, password=b"wrong")
    with pytest.raises(InvalidKeyError):
        load_private_key_pem(encrypted)


def test_non_ed25519_or_garbage_private_keys_are_refused() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(InvalidKeyError, match="expected an Ed25519 private key"):
        load_private_key_pem(ec_pem)
    with pytest.raises(InvalidKeyError, match="cannot load"):
        load_private_key_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_verifier_key_round_trip_and_verification(
    private_key: Ed25519PrivateKey, signed: str
) -> None:
    text = encode_verifier_key(private_key.public_key(), KEY_NAME)
    name, id_hex, _ = text.split("+", 2)
    assert (name, id_hex) == (KEY_NAME, key_id(KEY_NAME, private_key.public_key()).hex())
    verifier = parse_verifier_key(text)
    assert verify_signed_tree_head(signed, verifier.public_key, verifier.name) == HEAD


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("PeterNeumann+c74f20a3", "<name>"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumanN+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hex digits"),
        ("PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "base64"),
        ("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "type 0x01"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy", "type 0x01"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
    ],
)
def test_bad_verifier_keys_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError, match=reason):
        parse_verifier_key(text)
