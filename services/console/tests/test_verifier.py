"""The in-browser proof verifier (static/js/verify.js), run under Node.js.

Against the RFC 6962 inclusion vectors (every valid one accepted, every tampered one
refused), against the audit service's own canonical JSON and Ed25519 signed notes (the
Python implementations are the oracle), and on whole proof bundles: intact, with an altered
proof, with an altered event, with a forged signature. The browser tests run the same file
in Chromium.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit.domain.leaf import LEAF_FORMAT, canonical_json
from mpa_audit.domain.proof_plans import inclusion_proof
from mpa_audit_verify.checkpoint import TreeHead, sign_tree_head
from mpa_audit_verify.hashing import leaf_hash
from mpa_audit_verify.note import encode_verifier_key

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
VECTORS = ROOT / "services" / "audit" / "verifier" / "tests" / "testdata" / "rfc6962" / "inclusion"
# The in-memory node store lives with the audit's unit tests.
sys.path.insert(0, str(ROOT / "services" / "audit" / "tests"))
from audit_memory_tree import MemoryTree  # noqa: E402

ORIGIN = "audit.mpa.example/log"


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def run_node(spec: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "Node.js is needed to run the verifier's unit tests (it is on every machine)"
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run(
        [node, str(HERE / "js" / "run_verifier.js"), str(spec_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _events(count: int) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": f"00000000-0000-4000-8000-{n:012d}",
            "type": "org.mpa.referral.routed.v1",
            "source": "urn:mpa:service:referral",
            "time": "2026-03-02T09:30:00.123456Z",
            "correlationid": "0b6c1e1e-2f5a-4c36-9d7e-5f2b8f1f0a11",
            "partitionkey": "6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f",
            "data": {
                "case_id": "6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f",
                "score": [1.0, 0.8125, 0.1, 1e-05][n % 4],
                "note": "Aïcha — ☃ \U0001f600 \x7f",
                "attempt": n,
            },
        }
        for n in range(count)
    ]


def _bundle(size: int, key: Ed25519PrivateKey) -> dict[str, Any]:
    """A bundle as the console serves it, over a log of `size` leaves."""
    events = _events(size)
    origins = [
        {"topic": "mpa.referral.v1", "partition": n % 3, "offset": 40 + n} for n in range(size)
    ]
    leaves = [
        canonical_json({"event": e, "format": LEAF_FORMAT, "origin": o})
        for e, o in zip(events, origins, strict=True)
    ]
    tree = MemoryTree()
    tree.extend(leaf_hash(leaf) for leaf in leaves)
    head = TreeHead(ORIGIN, size, tree.root(), datetime(2026, 3, 2, 9, 31, tzinfo=UTC))
    return {
        "case_id": "6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f",
        "tree_head": {
            "origin": ORIGIN,
            "tree_size": size,
            "root_hash": b64(tree.root()),
            "checkpoint": sign_tree_head(head, key, ORIGIN),
        },
        "verifier_key": encode_verifier_key(key.public_key(), ORIGIN),
        "entries": [
            {
                "seq": n,
                "leaf_hash": b64(leaf_hash(leaves[n])),
                "origin": origins[n],
                "event": events[n],
                "audit_path": [b64(h) for h in inclusion_proof(n, size, tree)],
                "proof_leaf_hash": b64(leaf_hash(leaves[n])),
            }
            for n in range(size)
        ],
        "truncated": False,
    }


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    vectors = []
    for path in sorted(VECTORS.rglob("*.json")):
        vector = json.loads(path.read_text())
        vector["name"] = str(path.relative_to(VECTORS))
        vectors.append(vector)
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    head = TreeHead(ORIGIN, 7, b"\x01" * 32, datetime(2026, 3, 2, tzinfo=UTC))
    note = sign_tree_head(head, key, ORIGIN)
    intact = _bundle(7, key)
    altered_proof = json.loads(json.dumps(intact))
    path0 = base64.b64decode(altered_proof["entries"][2]["audit_path"][0])
    altered_proof["entries"][2]["audit_path"][0] = b64(bytes([path0[0] ^ 1]) + path0[1:])
    altered_event = json.loads(json.dumps(intact))
    altered_event["entries"][4]["event"]["data"]["attempt"] = 99
    forged = json.loads(json.dumps(intact))
    forged["verifier_key"] = encode_verifier_key(other.public_key(), ORIGIN)
    spec = {
        "inclusion": vectors,
        "canonical": [json.dumps(value) for value in CANONICAL_CASES],
        "notes": [
            {"note": note, "key": encode_verifier_key(key.public_key(), ORIGIN)},
            {
                "note": note.replace("\n7\n", "\n8\n", 1),
                "key": encode_verifier_key(key.public_key(), ORIGIN),
            },
            {"note": note, "key": encode_verifier_key(other.public_key(), ORIGIN)},
        ],
        "bundles": [json.dumps(b) for b in (intact, altered_proof, altered_event, forged)],
    }
    return run_node(spec, tmp_path_factory.mktemp("verifier"))


CANONICAL_CASES: list[Any] = [
    {"b": 1, "a": [1.0, 0.5, 1e-05, 1e16, 123456789012345678901234567890, -0.25, 0]},
    {"name": "Aïcha Exemple", "emoji": "\U0001f600", "control": "\x01\x1f\t\n", "del": "\x7f"},
    {"é": 1, "e": 2, "\U0001f600": 3, "z": {"y": None, "x": True, "w": False}},
    {"quote": 'a "b" \\ c / d', "empty": {}, "list": []},
]


def test_every_valid_rfc6962_inclusion_vector_is_accepted_and_every_tampered_one_refused(
    results: dict[str, Any],
) -> None:
    vectors = {
        p.relative_to(VECTORS).as_posix(): json.loads(p.read_text())
        for p in VECTORS.rglob("*.json")
    }
    assert len(results["inclusion"]) == len(vectors) > 90
    wrong = [
        r["name"] for r in results["inclusion"] if r["accepted"] == vectors[r["name"]]["wantErr"]
    ]
    assert wrong == []
    assert sum(r["accepted"] for r in results["inclusion"]) == sum(
        not v["wantErr"] for v in vectors.values()
    )


def test_the_canonical_json_is_byte_for_byte_the_audit_services(results: dict[str, Any]) -> None:
    expected = [canonical_json(value).decode("ascii") for value in CANONICAL_CASES]
    assert results["canonical"] == expected


def test_a_signed_tree_head_is_checked_with_ed25519(results: dict[str, Any]) -> None:
    assert results["notes"] == ["valid", "invalid", "invalid"]


def test_an_intact_bundle_passes_and_each_alteration_fails(results: dict[str, Any]) -> None:
    intact, altered_proof, altered_event, forged = results["bundles"]
    assert intact["passed"] is True
    assert intact["signature"] == "valid"
    assert all(entry["ok"] for entry in intact["entries"])
    assert len(intact["entries"]) == 7

    assert altered_proof["passed"] is False
    assert [e["seq"] for e in altered_proof["entries"] if not e["ok"]] == ["2"]
    assert altered_proof["entries"][2]["reason"] == "proof"

    assert altered_event["passed"] is False
    assert [(e["seq"], e["reason"]) for e in altered_event["entries"] if not e["ok"]] == [
        ("4", "leaf")
    ]

    assert forged["passed"] is False
    assert forged["signature"] == "invalid"
