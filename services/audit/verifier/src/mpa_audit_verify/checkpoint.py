"""Signed tree heads: C2SP tlog-checkpoint bodies in signed notes (`note.py`), Ed25519.

Checkpoint body (every line ends in a newline)::

    <origin>
    <tree size, ASCII decimal, no leading zeros>
    <root hash, standard base64 with padding>
    timestamp <UTC time, RFC 3339 with exactly six fraction digits and "Z">

The fourth line is the audit log's one extension line: when the tree head was issued, e.g.
``timestamp 2025-01-31T09:30:00.250000Z``. It has one canonical spelling, so a head
serialises to exactly one body. C2SP discourages extension lines because monitors cannot
audit them: nothing relies on the timestamp for the tree's integrity, it only records when
the log vouched for that size (witnesses cosign it, but vouch only for the first three
lines). Bodies with a missing, different or extra extension line are rejected: this parser
reads this log's checkpoints, not arbitrary logs'.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpa_audit_verify.hashing import HASH_SIZE
from mpa_audit_verify.note import (
    MalformedNoteError,
    SignatureVerificationError,
    has_control_character,
    open_note,
    sign_note,
    split_note,
    strict_base64,
)

TIMESTAMP_EXTENSION = "timestamp"
"""Keyword that starts the checkpoint's timestamp extension line."""

MAX_TREE_SIZE = 2**64 - 1
"""RFC 6962 tree sizes are uint64."""

_TREE_SIZE_PATTERN = re.compile(r"0|[1-9][0-9]*")
_TIMESTAMP_PATTERN = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z"
)


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
        if has_control_character(self.origin):
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
    root = strict_base64(root_line, "root hash")
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


def read_checkpoint(note: str | bytes) -> TreeHead:
    """The tree head a checkpoint note states, WITHOUT checking any signature (for display
    and routing only: trust comes from ``verify_signed_tree_head``)."""
    text, _ = split_note(note)
    return parse_checkpoint_body(text)


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
