"""Cosignatures (c2sp.org/tlog-cosignature) and the witness (c2sp.org/tlog-witness): it
cosigns consistent checkpoints only, answers with the specification's status codes, and keeps
its state across restarts."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from verify_support import TinyLog

from mpa_audit_verify.checkpoint import TreeHead, sign_tree_head, verify_signed_tree_head
from mpa_audit_verify.cosignature import (
    add_signature_lines,
    cosign,
    cosignature_lines,
    cosignature_message,
    cosigner_key,
    encode_cosigner_key,
    parse_cosigner_key,
    verify_cosignature,
)
from mpa_audit_verify.hashing import EMPTY_ROOT
from mpa_audit_verify.note import (
    COSIGNATURE_V1_TYPE,
    InvalidKeyError,
    SignatureVerificationError,
    key_id,
    parse_verifier_key,
    split_note,
)
from mpa_audit_verify.witness import (
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    FileWitnessState,
    MemoryWitnessState,
    StateDirectoryInUse,
    Witness,
    WitnessRefusal,
    origin_hash,
)

WITNESS_NAME = "witness.test.example/w1"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def log() -> TinyLog:
    tiny = TinyLog()
    tiny.grow(10)
    return tiny


@pytest.fixture
def witness_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def make_witness(log: TinyLog, key: Ed25519PrivateKey, state: object | None = None) -> Witness:
    return Witness(
        WITNESS_NAME,
        key,
        {log.origin: log.verifier},
        state or MemoryWitnessState(),  # type: ignore[arg-type]
        clock=NOW.timestamp,
    )


def request(old: int, proof: list[bytes], checkpoint: str) -> bytes:
    return AddCheckpointRequest(old, tuple(proof), checkpoint).encode()


def refusal(witness: Witness, body: bytes) -> WitnessRefusal:
    with pytest.raises(WitnessRefusal) as refused:
        witness.add_checkpoint(body)
    return refused.value


# --- cosignature/v1 ---------------------------------------------------------------------


def test_the_signed_message_is_the_header_the_time_and_the_whole_body() -> None:
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosignature_message(body, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + body.encode()
    )
    with pytest.raises(ValueError, match="outside"):
        cosignature_message(body, -1)


def test_a_cosignature_line_holds_key_id_timestamp_and_signature(
    log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    checkpoint = log.checkpoint()
    body, _ = split_note(checkpoint)
    line = cosign(body, witness_key, WITNESS_NAME, 1_700_000_000)
    name, encoded = line[2:-1].split(" ")
    blob = base64.b64decode(encoded)
    assert name == WITNESS_NAME
    assert blob[:4] == key_id(WITNESS_NAME, witness_key.public_key(), COSIGNATURE_V1_TYPE)
    assert int.from_bytes(blob[4:12], "big") == 1_700_000_000
    witness_key.public_key().verify(blob[12:], cosignature_message(body, 1_700_000_000))

    cosigned = add_signature_lines(checkpoint, line)
    found = verify_cosignature(cosigned, cosigner_key(witness_key, WITNESS_NAME), now=NOW)
    assert found.witness == WITNESS_NAME
    assert found.timestamp == datetime.fromtimestamp(1_700_000_000, UTC)
    # The log's own signature still verifies beside it, and adding a line twice keeps one.
    assert verify_signed_tree_head(cosigned, log.key.public_key(), log.origin).tree_size == 10
    assert add_signature_lines(cosigned, line) == cosigned


def test_cosignatures_that_do_not_verify_are_refused(
    log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    checkpoint = log.checkpoint()
    body, _ = split_note(checkpoint)
    key = cosigner_key(witness_key, WITNESS_NAME)
    with pytest.raises(SignatureVerificationError, match="no cosignature by witness"):
        verify_cosignature(checkpoint, key)
    # Signed for another checkpoint, then moved onto this one.
    other = log.checkpoint(5)
    moved = add_signature_lines(
        checkpoint, cosign(split_note(other)[0], witness_key, WITNESS_NAME, 1)
    )
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verify_cosignature(moved, key)
    # By another key under the same name: ignored, so still none.
    stranger = add_signature_lines(
        checkpoint, cosign(body, Ed25519PrivateKey.generate(), WITNESS_NAME, 1)
    )
    with pytest.raises(SignatureVerificationError, match="no cosignature"):
        verify_cosignature(stranger, key)
    future = add_signature_lines(
        checkpoint, cosign(body, witness_key, WITNESS_NAME, int(NOW.timestamp()) + 3600)
    )
    with pytest.raises(SignatureVerificationError, match="in the future"):
        verify_cosignature(future, key, now=NOW)
    assert verify_cosignature(future, key, now=NOW + timedelta(hours=2))
    # A log key (type 0x01) is not a cosigner key.
    with pytest.raises(SignatureVerificationError, match="not a cosigner"):
        verify_cosignature(checkpoint, log.verifier)


def test_cosigner_keys_are_verifier_keys_of_type_0x04(witness_key: Ed25519PrivateKey) -> None:
    text = encode_cosigner_key(witness_key, WITNESS_NAME)
    assert base64.b64decode(text.split("+", 2)[2])[0] == 0x04
    assert parse_cosigner_key(text) == cosigner_key(witness_key, WITNESS_NAME)
    with pytest.raises(InvalidKeyError, match=r"type 0x01.*witness's cosigner key is type 0x04"):
        parse_verifier_key(text)
    log_key = TinyLog().verifier.encode()
    with pytest.raises(InvalidKeyError, match="type 0x04"):
        parse_cosigner_key(log_key)


# --- the witness ------------------------------------------------------------------------


def test_the_first_checkpoint_is_cosigned_from_size_zero(
    log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    witness = make_witness(log, witness_key)
    checkpoint = log.checkpoint()
    line = witness.add_checkpoint(request(0, [], checkpoint))
    key = parse_cosigner_key(witness.verifier_key)
    assert [s.line() for s in cosignature_lines(line, key)] == [line]
    assert verify_cosignature(add_signature_lines(checkpoint, line), key).timestamp == NOW
    stored = witness.latest(log.origin)
    assert stored == checkpoint + line
    assert witness.latest_by_hash(origin_hash(log.origin)) == stored
    assert witness.latest("unknown.example/log") is None


def test_a_grown_log_is_cosigned_with_a_consistency_proof(
    log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    witness = make_witness(log, witness_key)
    witness.add_checkpoint(request(0, [], log.checkpoint()))
    log.grow(7)
    witness.add_checkpoint(request(10, log.proof(10), log.checkpoint()))
    # The same size again (a re-signed head with the same root): cosigned again.
    witness.add_checkpoint(request(17, [], log.checkpoint()))
    assert witness.latest(log.origin) is not None
    assert f"\n{17}\n" in (witness.latest(log.origin) or "")


def test_a_stale_old_size_gets_409_with_the_latest_size(
    log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    witness = make_witness(log, witness_key)
    witness.add_checkpoint(request(0, [], log.checkpoint()))
    log.grow(3)
    refused = refusal(witness, request(0, [], log.checkpoint()))
    assert (refused.status, refused.body, refused.content_type) == (409, "10\n", SIZE_CONTENT_TYPE)
    refused = refusal(witness, request(5, log.proof(5), log.checkpoint()))
    assert refused.status == 409


def test_a_rewritten_history_is_refused_and_kept_as_evidence(
    log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    state = MemoryWitnessState()
    witness = make_witness(log, witness_key, state)
    witness.add_checkpoint(request(0, [], log.checkpoint()))
    # The log's owner rewrites leaf 3 and signs the fork, at the same size and grown.
    fork = TinyLog(key=log.key, leaves=list(log.leaves))
    fork.leaves[3] = b"\x42" * 32
    refused = refusal(witness, request(10, [], fork.checkpoint()))
    assert refused.status == 422
    assert "different root" in refused.reason
    fork.grow(6)
    refused = refusal(witness, request(10, fork.proof(10), fork.checkpoint()))
    assert refused.status == 422
    assert "not consistent" in refused.reason
    # Nothing moved, and both log-signed requests are kept.
    assert f"\n{10}\n" in (witness.latest(log.origin) or "")
    assert [reason for _, reason, _ in state.refusals] == [
        "a different root for size 10 than the one cosigned",
        refused.reason,
    ]
    # The honest continuation is still cosigned.
    log.grow(6)
    assert witness.add_checkpoint(request(10, log.proof(10), log.checkpoint()))


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"old 01\n\n", 400, "old <size>"),
        (b"new 1\n\n", 400, "old <size>"),
        (b"old 0\n", 400, "empty line"),
        (b"old 0\nnot-base64!\n\n", 400, "not base64"),
        (b"old 0\nAAAA\n\n", 400, "32-byte"),
        (b"\xff\n\n", 400, "UTF-8"),
        (b"old 0\n" + b"A" * 70_000 + b"\n\n", 400, "exceeds"),
        (b"old 0\n\nnot a checkpoint\n", 400, "does not parse"),
    ],
)
def test_malformed_requests_get_400(
    log: TinyLog, witness_key: Ed25519PrivateKey, body: bytes, status: int, reason: str
) -> None:
    refused = refusal(make_witness(log, witness_key), body)
    assert refused.status == status
    assert reason in refused.reason


def test_too_many_proof_lines_get_400(log: TinyLog, witness_key: Ed25519PrivateKey) -> None:
    proof = [b"\x00" * 32] * 64
    refused = refusal(make_witness(log, witness_key), request(0, proof, log.checkpoint()))
    assert (refused.status, "more than 63") == (400, refused.reason[:12])


def test_unknown_logs_unsigned_checkpoints_and_impossible_sizes(
    log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    witness = make_witness(log, witness_key)
    other = TinyLog(origin="other.example/log")
    other.grow(2)
    assert refusal(witness, request(0, [], other.checkpoint())).status == 404
    impostor = TinyLog(origin=log.origin, leaves=list(log.leaves))
    assert refusal(witness, request(0, [], impostor.checkpoint())).status == 403
    assert refusal(witness, request(11, [], log.checkpoint())).status == 400
    # An empty tree must have the empty root; a proof from 0 must be empty.
    empty = sign_tree_head(TreeHead(log.origin, 0, b"\x01" * 32, NOW), log.key, log.origin)
    assert refusal(witness, request(0, [], empty)).status == 422
    good_empty = sign_tree_head(TreeHead(log.origin, 0, EMPTY_ROOT, NOW), log.key, log.origin)
    assert witness.add_checkpoint(request(0, [], good_empty))
    # Cosigned at size 0, the witness expects old 0 next, and then no proof.
    assert refusal(witness, request(0, [b"\x00" * 32], log.checkpoint())).status == 422
    assert witness.add_checkpoint(request(0, [], log.checkpoint()))


def test_the_state_survives_a_restart_and_one_directory_serves_one_witness(
    tmp_path: Path, log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    state = FileWitnessState(tmp_path / "state")
    witness = make_witness(log, witness_key, state)
    witness.add_checkpoint(request(0, [], log.checkpoint()))
    with pytest.raises(StateDirectoryInUse):
        FileWitnessState(tmp_path / "state")
    fork = TinyLog(key=log.key, leaves=[b"\x07" * 32] * 10)
    refusal(witness, request(10, [], fork.checkpoint()))
    state.close()

    restarted = make_witness(log, witness_key, FileWitnessState(tmp_path / "state"))
    assert restarted.latest(log.origin) == witness.latest(log.origin)
    assert refusal(restarted, request(0, [], log.checkpoint())).status == 409
    assert refusal(restarted, request(10, [], fork.checkpoint())).status == 422
    refusals = (tmp_path / "state" / "refusals.jsonl").read_text().splitlines()
    assert len(refusals) == 2
    assert "different root" in refusals[0]


def test_concurrent_requests_never_roll_the_state_back(
    log: TinyLog, witness_key: Ed25519PrivateKey
) -> None:
    """The spec's race: two requests from the same old size; only one may win."""
    witness = make_witness(log, witness_key)
    witness.add_checkpoint(request(0, [], log.checkpoint()))
    log.grow(5)
    bodies = [request(10, log.proof(10, 12), log.checkpoint(12)),
              request(10, log.proof(10), log.checkpoint())]  # fmt: skip
    outcomes: list[int] = []

    def submit(body: bytes) -> None:
        try:
            witness.add_checkpoint(body)
            outcomes.append(200)
        except WitnessRefusal as refused:
            outcomes.append(refused.status)

    threads = [threading.Thread(target=submit, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [200, 409]
