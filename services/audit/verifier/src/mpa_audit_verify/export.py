"""Exports of the audit log and their offline verification: pure, no database, no network.

An export is JSON Lines. The first line is the header::

    {"format": "mpa-audit-export/1", "origin": "<log origin>", "start": s, "tree_size": n,
     "start_peaks": [<base64 hashes of the perfect subtrees covering leaves [0, s)>],
     "checkpoint": "<signed checkpoint note of the tree of n leaves>",
     "consistency": {"from": m, "proof": [<base64 hashes>]} | null}

then one line per leaf ``seq`` in ``[s, n)``, in order, the leaf embedded verbatim::

    {"seq":<int>,"leaf":<the leaf's canonical JSON bytes, exactly as hashed (domain.leaf)>}

So every line is ordinary JSON that any tool can read, and the leaf bytes are the line's
bytes between ``"leaf":`` and the final ``}``: a verifier takes them as they are and never
re-serialises them (which is also why it needs no JSON parser for leaf lines, and is fast).

Verification recomputes the Merkle root of the tree of ``n`` leaves from the start peaks and
every leaf, and requires it to equal the root in the checkpoint, whose Ed25519 signature must
verify with the auditor's copy of the public key and, when the auditor names witnesses, which
must carry a valid cosignature by each (extra signature lines, see `cosignature.py`). A full
export (``s = 0``) has no peaks and depends on nothing but its lines. Given an earlier tree
head of size ``m`` (signed by the same key), the export must be consistent with it: when
``s <= m <= n`` the root at ``m`` is recomputed from the leaves; when ``m < s`` the header must
carry an RFC 6962 consistency proof from ``m`` to ``n``. Any altered, missing, extra or
reordered leaf changes the root.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mpa_audit_verify.checkpoint import TreeHead, verify_signed_tree_head
from mpa_audit_verify.compact_range import CompactRange
from mpa_audit_verify.cosignature import Cosignature, verify_cosignature
from mpa_audit_verify.hashing import leaf_hash
from mpa_audit_verify.note import CheckpointError, VerifierKey
from mpa_audit_verify.proofs import ProofError, verify_consistency

EXPORT_FORMAT = "mpa-audit-export/1"


class ExportVerificationError(ValueError):
    """The export is malformed, unsigned, altered or inconsistent; the message says how."""


@dataclass(frozen=True, slots=True)
class ConsistencyEvidence:
    """A consistency proof from an earlier tree size to the export's tree size."""

    from_size: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ExportHeader:
    """The first line of an export."""

    origin: str
    start: int
    tree_size: int
    start_peaks: tuple[bytes, ...]
    checkpoint: str
    consistency: ConsistencyEvidence | None = None

    def to_line(self) -> str:
        document: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "origin": self.origin,
            "start": self.start,
            "tree_size": self.tree_size,
            "start_peaks": [_b64(peak) for peak in self.start_peaks],
            "checkpoint": self.checkpoint,
            "consistency": (
                {
                    "from": self.consistency.from_size,
                    "proof": [_b64(h) for h in self.consistency.proof],
                }
                if self.consistency
                else None
            ),
        }
        return json.dumps(document, separators=(",", ":")) + "\n"

    @classmethod
    def from_line(cls, line: str | bytes) -> ExportHeader:
        try:
            document = json.loads(line)
            if document.get("format") != EXPORT_FORMAT:
                raise ExportVerificationError(f"first line is not an {EXPORT_FORMAT} header")
            consistency = document.get("consistency")
            return cls(
                origin=_text(document["origin"]),
                start=_count(document["start"]),
                tree_size=_count(document["tree_size"]),
                start_peaks=tuple(_unb64(peak) for peak in document["start_peaks"]),
                checkpoint=_text(document["checkpoint"]),
                consistency=(
                    ConsistencyEvidence(
                        _count(consistency["from"]),
                        tuple(_unb64(h) for h in consistency["proof"]),
                    )
                    if consistency is not None
                    else None
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            if isinstance(error, ExportVerificationError):
                raise
            raise ExportVerificationError(f"export header is malformed: {error}") from None


_LINE_START = b'{"seq":'
_LEAF_MARK = b',"leaf":'


def leaf_line(seq: int, leaf: bytes) -> bytes:
    """One export line for leaf ``seq``: the leaf's bytes embedded verbatim."""
    return b"%s%d%s%s}\n" % (_LINE_START, seq, _LEAF_MARK, leaf)


@dataclass(frozen=True, slots=True)
class VerifiedExport:
    """What a successful verification established."""

    tree_head: TreeHead
    start: int
    leaves: int
    previous: TreeHead | None
    cosignatures: tuple[Cosignature, ...] = ()


def verify_export(
    lines: Iterable[str | bytes],
    key: VerifierKey,
    previous_checkpoint: str | None = None,
    *,
    witnesses: Sequence[VerifierKey] = (),
    now: datetime | None = None,
) -> VerifiedExport:
    """Verify an export (its lines, header first) against the auditor's public key.

    ``previous_checkpoint`` is an earlier signed checkpoint note the auditor holds; the export
    must then prove the log only grew since. Each of ``witnesses`` (cosigner keys) must have
    cosigned the export's checkpoint (dated no later than ``now``, when given). Returns on
    success; raises ``ExportVerificationError`` naming the first problem otherwise.
    """
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        raise ExportVerificationError("export is empty")
    header = ExportHeader.from_line(first)
    head = _open_checkpoint(header.checkpoint, key, header.origin, "export's checkpoint")
    if head.tree_size != header.tree_size:
        raise ExportVerificationError(
            f"header says tree size {header.tree_size}, its checkpoint {head.tree_size}"
        )
    cosignatures = tuple(
        _require_cosignature(header.checkpoint, witness, now) for witness in witnesses
    )
    if header.start > header.tree_size:
        raise ExportVerificationError(f"start {header.start} is past tree size {header.tree_size}")
    previous = (
        _open_checkpoint(previous_checkpoint, key, header.origin, "previous tree head")
        if previous_checkpoint is not None
        else None
    )
    if previous is not None and previous.tree_size > head.tree_size:
        raise ExportVerificationError(
            f"previous tree head has {previous.tree_size} leaves, the export only "
            f"{head.tree_size}: the log cannot shrink"
        )
    try:
        compact = CompactRange.from_peaks(header.start, header.start_peaks)
    except ValueError as error:
        raise ExportVerificationError(f"start peaks: {error}") from None

    # Where the previous tree head's root is recomputed, if it lies within this export.
    check_at = previous.tree_size if previous and previous.tree_size >= header.start else None
    leaf_hashes = _leaf_hashes(iterator, header.start, head.tree_size)
    if previous is not None and check_at is not None:
        compact.extend(itertools.islice(leaf_hashes, check_at - header.start))
        if compact.size == check_at:
            _require_previous_root(compact, previous)
    compact.extend(leaf_hashes)
    if compact.size != head.tree_size:
        raise ExportVerificationError(
            f"export holds leaves up to {compact.size}, its checkpoint covers {head.tree_size}"
        )
    root = compact.root()
    if root != head.root_hash:
        raise ExportVerificationError(
            f"recomputed root {root.hex()} differs from the signed root {head.root_hash.hex()}: "
            "a leaf was altered, added or removed"
        )
    if previous is not None and check_at is None:
        _require_consistency_proof(header, previous, head)
    return VerifiedExport(head, header.start, head.tree_size - header.start, previous, cosignatures)


def _leaf_hashes(lines: Iterator[str | bytes], start: int, tree_size: int) -> Iterator[bytes]:
    """The hash of each leaf line, checking that lines hold leaves start, start + 1, ..."""
    expected = start
    for number, line in enumerate(lines, start=2):
        raw = line.encode() if isinstance(line, str) else line
        raw = raw.rstrip(b"\r\n")
        mark = raw.find(_LEAF_MARK)
        digits = raw[len(_LINE_START) : mark]
        if not raw.startswith(_LINE_START) or mark < 0 or not raw.endswith(b"}"):
            raise ExportVerificationError(f"line {number} is not a leaf line")
        if not digits.isdigit() or int(digits) != expected:
            raise ExportVerificationError(
                f"line {number} does not hold leaf {expected}: leaves must be contiguous"
            )
        if expected >= tree_size:
            raise ExportVerificationError(
                f"line {number}: leaf {expected} is beyond the tree size {tree_size}"
            )
        yield leaf_hash(raw[mark + len(_LEAF_MARK) : -1])
        expected += 1


def _require_previous_root(compact: CompactRange, previous: TreeHead) -> None:
    if compact.root() != previous.root_hash:
        raise ExportVerificationError(
            f"the export's tree at size {previous.tree_size} has root {compact.root().hex()}, "
            f"the previous tree head says {previous.root_hash.hex()}: history was rewritten"
        )


def _require_consistency_proof(header: ExportHeader, previous: TreeHead, head: TreeHead) -> None:
    evidence = header.consistency
    if evidence is None or evidence.from_size != previous.tree_size:
        raise ExportVerificationError(
            f"the export starts at {header.start}, after the previous tree head "
            f"({previous.tree_size} leaves), and carries no consistency proof from it: "
            f"export with previous_tree_size={previous.tree_size}"
        )
    try:
        verify_consistency(
            previous.tree_size,
            head.tree_size,
            previous.root_hash,
            head.root_hash,
            evidence.proof,
        )
    except ProofError as error:
        raise ExportVerificationError(f"consistency with the previous tree head: {error}") from None


def _require_cosignature(note: str, witness: VerifierKey, now: datetime | None) -> Cosignature:
    try:
        return verify_cosignature(note, witness, now=now)
    except CheckpointError as error:
        raise ExportVerificationError(
            f"export's checkpoint is not witnessed: {error} (a witness refuses to cosign a "
            "history that is not consistent with what it cosigned before)"
        ) from None


def _open_checkpoint(note: str, key: VerifierKey, origin: str, what: str) -> TreeHead:
    try:
        return verify_signed_tree_head(note, key.public_key, key.name, origin=origin)
    except CheckpointError as error:
        raise ExportVerificationError(f"{what}: {error}") from None


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError("hash is not a string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"hash is not base64: {error}") from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _count(value: object) -> int:
    if type(value) is not int or value < 0:
        raise ValueError("expected a non-negative integer")
    return value


def encode_hashes(hashes: Sequence[bytes]) -> list[str]:
    """Hashes as base64 text, the encoding exports and the API use."""
    return [_b64(h) for h in hashes]
