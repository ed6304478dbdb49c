"""Known-answer tests: the transparency-dev/merkle RFC 6962 proof vectors in testdata/rfc6962.

Every vector with ``wantErr: false`` must verify; every tampered one must raise ProofError.
The files are byte-identical to transparency-dev/merkle's ``testdata/`` (checked against
commit 417fb0c314750d94e53942e9f92e79b6d35915db); see the README and LICENSE beside them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mpa_audit_verify.proofs import ProofError, verify_consistency, verify_inclusion

VECTOR_DIR = Path(__file__).parent / "testdata" / "rfc6962"

# The copied corpus: 98 inclusion + 98 consistency files, 12 valid and 184 tampered.
EXPECTED_INCLUSION_VECTORS = 98
EXPECTED_CONSISTENCY_VECTORS = 98
EXPECTED_VALID_VECTORS = 12


@dataclass(frozen=True)
class Vector:
    """One JSON vector file: which check it exercises and whether it must fail."""

    path: Path
    kind: str
    fields: dict[str, Any]

    @property
    def want_error(self) -> bool:
        return bool(self.fields["wantErr"])

    @property
    def name(self) -> str:
        return str(self.path.relative_to(VECTOR_DIR))


def _decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _proof(fields: dict[str, Any]) -> list[bytes]:
    # Go's JSON encoding writes a nil proof as null.
    return [_decode(element) for element in fields["proof"] or []]


def load_vectors() -> list[Vector]:
    vectors: list[Vector] = []
    for kind in ("inclusion", "consistency"):
        for path in sorted((VECTOR_DIR / kind).rglob("*.json")):
            vectors.append(Vector(path, kind, json.loads(path.read_text(encoding="utf-8"))))
    return vectors


def check(vector: Vector) -> None:
    """Runs the vector's verification; raises ProofError if it is rejected."""
    fields = vector.fields
    if vector.kind == "inclusion":
        verify_inclusion(
            fields["leafIdx"],
            fields["treeSize"],
            _decode(fields["leafHash"]),
            _proof(fields),
            _decode(fields["root"]),
        )
    else:
        verify_consistency(
            fields["size1"],
            fields["size2"],
            _decode(fields["root1"]),
            _decode(fields["root2"]),
            _proof(fields),
        )


ALL_VECTORS = load_vectors()


def test_every_vector_is_run_and_judged_as_expected() -> None:
    accepted: list[str] = []
    rejected: list[str] = []
    wrongly_judged: list[str] = []
    for vector in ALL_VECTORS:
        try:
            check(vector)
        except ProofError as error:
            rejected.append(vector.name)
            if not vector.want_error:
                wrongly_judged.append(f"{vector.name}: rejected valid vector: {error}")
        else:
            accepted.append(vector.name)
            if vector.want_error:
                wrongly_judged.append(f"{vector.name}: accepted tampered vector")

    assert wrongly_judged == []
    kinds = [vector.kind for vector in ALL_VECTORS]
    assert kinds.count("inclusion") == EXPECTED_INCLUSION_VECTORS
    assert kinds.count("consistency") == EXPECTED_CONSISTENCY_VECTORS
    assert len(accepted) == EXPECTED_VALID_VECTORS
    expected_total = EXPECTED_INCLUSION_VECTORS + EXPECTED_CONSISTENCY_VECTORS
    assert len(accepted) + len(rejected) == expected_total


def test_corpus_has_license_and_readme() -> None:
    assert "Apache License" in (VECTOR_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "transparency-dev/merkle" in (VECTOR_DIR / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=lambda vector: vector.name)
def test_vector(vector: Vector) -> None:
    if vector.want_error:
        with pytest.raises(ProofError):
            check(vector)
    else:
        check(vector)
