"""Leaf encoding and offline export verification (pure: no database, no network)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from audit_memory_tree import MemoryTree
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit.domain.leaf import (
    LEAF_FORMAT,
    RecordOrigin,
    encode_leaf,
    leaf_bytes,
    summarize_leaf,
)
from mpa_audit.domain.proof_plans import consistency_proof
from mpa_audit_verify.checkpoint import TreeHead, sign_tree_head
from mpa_audit_verify.compact_range import CompactRange, frontier_node_ids
from mpa_audit_verify.export import (
    ConsistencyEvidence,
    ExportHeader,
    ExportVerificationError,
    leaf_line,
    verify_export,
)
from mpa_audit_verify.hashing import leaf_hash
from mpa_audit_verify.note import VerifierKey
from mpa_contracts.envelope import Envelope, envelope_to_json, new_envelope
from mpa_contracts.events.access import PersonalDataAccessedV1
from mpa_contracts.examples import EXAMPLES

ORIGIN = "audit.test/log"
KEY = Ed25519PrivateKey.generate()
VERIFIER = VerifierKey(ORIGIN, KEY.public_key())


def _access_event() -> PersonalDataAccessedV1:
    example = EXAMPLES["org.mpa.access.personal_data_accessed.v1"]
    assert isinstance(example, PersonalDataAccessedV1)
    return example.model_copy(update={"case_id": uuid.uuid4()})


def test_leaf_is_canonical_json_of_the_event_and_its_origin() -> None:
    envelope = new_envelope(_access_event(), source="urn:mpa:service:intake")
    origin = RecordOrigin("mpa.access.v1", 2, 41)
    leaf = leaf_bytes(envelope, origin)
    assert leaf == leaf_bytes(envelope, origin)  # deterministic
    document = json.loads(leaf)
    assert leaf == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert leaf.isascii()
    assert document["format"] == LEAF_FORMAT
    assert document["origin"] == {"topic": "mpa.access.v1", "partition": 2, "offset": 41}
    assert document["event"]["id"] == str(envelope.id)
    assert document["event"]["partitionkey"] == str(envelope.key)
    assert document["event"]["data"]["case_id"] == str(envelope.data.case_id)  # type: ignore[attr-defined]
    assert leaf != leaf_bytes(envelope, RecordOrigin("mpa.access.v1", 2, 42))


def test_leaf_leaves_out_trace_context() -> None:
    traced = new_envelope(
        _access_event(),
        source="urn:mpa:service:intake",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    document = json.loads(leaf_bytes(traced, RecordOrigin("t", 0, 0)))
    assert "traceparent" not in document["event"]


def test_summary_reads_the_indexed_fields_back_from_the_leaf() -> None:
    envelope = new_envelope(_access_event(), source="urn:mpa:service:intake")
    summary = summarize_leaf(leaf_bytes(envelope, RecordOrigin("mpa.access.v1", 1, 7)))
    assert summary.event_id == envelope.id
    assert summary.event_type == envelope.type
    assert summary.event_time == envelope.time
    assert summary.correlation_id == envelope.correlation_id
    assert summary.case_id == envelope.data.case_id  # type: ignore[attr-defined]
    assert summary.actor_id == envelope.actor_id
    assert summary.origin == RecordOrigin("mpa.access.v1", 1, 7)
    with pytest.raises(ValueError, match="leaf"):
        summarize_leaf(b'{"format":"other"}')


def test_compact_range_extend_equals_append() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(37)]
    one_by_one, extended = CompactRange(), CompactRange()
    for value in hashes:
        one_by_one.append(value)
    extended.extend(hashes[:20])
    extended.extend(iter(hashes[20:]))
    assert (extended.size, extended.root()) == (one_by_one.size, one_by_one.root())
    with pytest.raises(ValueError, match="32 bytes"):
        extended.extend([b"short"])
    assert extended.size == 37


# --- exports -----------------------------------------------------------------------


def _leaves(count: int) -> list[bytes]:
    return [json.dumps({"n": n, "x": "é"}, ensure_ascii=True).encode() for n in range(count)]


def _tree(leaves: list[bytes]) -> MemoryTree:
    tree = MemoryTree()
    tree.extend(leaf_hash(leaf) for leaf in leaves)
    return tree


def _checkpoint(tree: MemoryTree, key: Ed25519PrivateKey = KEY, origin: str = ORIGIN) -> str:
    head = TreeHead(origin, tree.size, tree.root(), datetime(2026, 3, 2, tzinfo=UTC))
    return sign_tree_head(head, key, origin)


def _export(
    leaves: list[bytes],
    *,
    start: int = 0,
    consistency: ConsistencyEvidence | None = None,
    checkpoint: str | None = None,
) -> list[bytes]:
    tree = _tree(leaves)
    peaks = tuple(tree.get_nodes(frontier_node_ids(start))[i] for i in frontier_node_ids(start))
    header = ExportHeader(
        ORIGIN, start, len(leaves), peaks, checkpoint or _checkpoint(tree), consistency
    )
    return [header.to_line().encode()] + [
        leaf_line(seq, leaf) for seq, leaf in enumerate(leaves) if seq >= start
    ]


def test_a_full_export_verifies() -> None:
    leaves = _leaves(23)
    result = verify_export(_export(leaves), VERIFIER)
    assert (result.start, result.leaves, result.tree_head.tree_size) == (0, 23, 23)
    line = json.loads(_export(leaves)[5])  # every line is plain JSON with the leaf inside
    assert line == {"seq": 4, "leaf": json.loads(leaves[4])}


def test_an_empty_log_exports_and_verifies() -> None:
    assert verify_export(_export([]), VERIFIER).leaves == 0


@pytest.mark.parametrize(
    "tamper",
    [
        "altered leaf",
        "missing line",
        "extra line",
        "swapped lines",
        "truncated",
        "not a leaf line",
    ],
)
def test_a_tampered_export_fails(tamper: str) -> None:
    lines = _export(_leaves(12))
    if tamper == "altered leaf":
        lines[4] = lines[4].replace(b'"n": 3', b'"n": 9')
        assert lines[4] != _export(_leaves(12))[4]
    elif tamper == "missing line":
        del lines[6]
    elif tamper == "extra line":
        lines.append(leaf_line(12, b"{}"))
    elif tamper == "swapped lines":
        lines[2], lines[3] = lines[3], lines[2]
    elif tamper == "truncated":
        lines = lines[:-1]
    else:
        lines[7] = b'{"seq":6}\n'
    with pytest.raises(ExportVerificationError):
        verify_export(lines, VERIFIER)


def test_a_leaf_rewritten_with_a_matching_re_signed_root_fails_on_the_key() -> None:
    leaves = _leaves(9)
    forged = [*leaves[:3], b'{"n":3,"forged":true}', *leaves[4:]]
    impostor = Ed25519PrivateKey.generate()
    lines = _export(forged, checkpoint=_checkpoint(_tree(forged), key=impostor))
    with pytest.raises(ExportVerificationError, match="no signature by key"):
        verify_export(lines, VERIFIER)


def test_a_checkpoint_of_another_log_fails() -> None:
    leaves = _leaves(4)
    lines = _export(leaves, checkpoint=_checkpoint(_tree(leaves), origin="other.test/log"))
    with pytest.raises(ExportVerificationError):
        verify_export(lines, VerifierKey("other.test/log", KEY.public_key()))


def test_consistency_with_a_previous_tree_head_inside_the_export() -> None:
    leaves = _leaves(30)
    previous = _checkpoint(_tree(leaves[:11]))
    assert verify_export(_export(leaves), VERIFIER, previous).previous is not None
    # History rewritten after the auditor's tree head: the old root is not the export's prefix.
    rewritten = [*leaves[:5], b'{"n":"rewritten"}', *leaves[6:]]
    with pytest.raises(ExportVerificationError, match="history was rewritten"):
        verify_export(_export(rewritten), VERIFIER, previous)
    # A previous head larger than the export: the log would have shrunk.
    with pytest.raises(ExportVerificationError, match="cannot shrink"):
        verify_export(_export(leaves[:10]), VERIFIER, previous)


def test_a_range_export_verifies_from_its_start_peaks() -> None:
    leaves = _leaves(40)
    assert verify_export(_export(leaves, start=13), VERIFIER).leaves == 27
    previous_at_start = _checkpoint(_tree(leaves[:13]))
    assert verify_export(_export(leaves, start=13), VERIFIER, previous_at_start).previous
    lines = _export(leaves, start=13)
    lines[0] = lines[0].replace(b'"start":13', b'"start":12')
    with pytest.raises(ExportVerificationError):
        verify_export(lines, VERIFIER)


def test_a_range_export_after_the_previous_tree_head_needs_a_consistency_proof() -> None:
    leaves = _leaves(40)
    tree = _tree(leaves)
    previous = _checkpoint(_tree(leaves[:7]))
    with pytest.raises(ExportVerificationError, match="previous_tree_size=7"):
        verify_export(_export(leaves, start=20), VERIFIER, previous)
    evidence = ConsistencyEvidence(7, tuple(consistency_proof(7, 40, tree)))
    assert verify_export(_export(leaves, start=20, consistency=evidence), VERIFIER, previous)
    forged_previous = _checkpoint(_tree([b"other", *leaves[1:7]]))
    with pytest.raises(ExportVerificationError, match="consistency"):
        verify_export(_export(leaves, start=20, consistency=evidence), VERIFIER, forged_previous)


def _reference_leaf(envelope: Envelope, origin: RecordOrigin) -> bytes:
    """The leaf as its format defines it: the structured-mode document of `envelope_to_json`
    without trace context, canonical JSON."""
    document = json.loads(envelope_to_json(envelope))
    document.pop("traceparent", None)
    document.pop("tracestate", None)
    leaf = {
        "event": document,
        "format": LEAF_FORMAT,
        "origin": {"offset": origin.offset, "partition": origin.partition, "topic": origin.topic},
    }
    return json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_the_fast_leaf_encoder_writes_the_documented_bytes(event_type: str) -> None:
    payload = EXAMPLES[event_type]
    plain = new_envelope(payload, source="urn:mpa:service:test")
    full = new_envelope(
        payload,
        source="urn:mpa:service:test",
        subject="case/1",
        caused_by=plain,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate="mpa=1",
    )
    for envelope in (plain, full):
        origin = RecordOrigin("mpa.x.v1", 4, 123456)
        assert leaf_bytes(envelope, origin) == _reference_leaf(envelope, origin)
        leaf, summary = encode_leaf(envelope, origin)
        assert leaf == _reference_leaf(envelope, origin)
        assert summary == summarize_leaf(leaf)
