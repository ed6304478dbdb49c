"""`mpa-audit-verify`: an export verifies offline with the log's key and its witnesses' keys,
and the verifier runs with nothing of the platform's services installed or imported."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit_verify.checkpoint import TreeHead, sign_tree_head
from mpa_audit_verify.command import run
from mpa_audit_verify.compact_range import CompactRange
from mpa_audit_verify.cosignature import add_signature_lines, cosign, encode_cosigner_key
from mpa_audit_verify.export import ExportHeader, ExportVerificationError, leaf_line, verify_export
from mpa_audit_verify.hashing import leaf_hash
from mpa_audit_verify.note import VerifierKey, split_note

ORIGIN = "audit.test.example/log"
WITNESS = "witness.test.example/w1"
PACKAGE = Path(__file__).resolve().parents[1]


def write_export(
    path: Path, log_key: Ed25519PrivateKey, leaves: int, witnesses: list[Ed25519PrivateKey]
) -> Path:
    data = [json.dumps({"n": n}).encode() for n in range(leaves)]
    compact = CompactRange()
    compact.extend(leaf_hash(leaf) for leaf in data)
    head = TreeHead(ORIGIN, leaves, compact.root(), datetime.now(UTC))
    checkpoint = sign_tree_head(head, log_key, ORIGIN)
    body, _ = split_note(checkpoint)
    for number, key in enumerate(witnesses):
        name = WITNESS if number == 0 else f"witness.test.example/w{number + 1}"
        checkpoint = add_signature_lines(checkpoint, cosign(body, key, name, 1_700_000_000))
    header = ExportHeader(ORIGIN, 0, leaves, (), checkpoint)
    with path.open("wb") as file:
        file.write(header.to_line().encode())
        for seq, leaf in enumerate(data):
            file.write(leaf_line(seq, leaf))
    return path


@pytest.fixture
def keys() -> tuple[Ed25519PrivateKey, Ed25519PrivateKey]:
    return Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def test_a_witnessed_export_verifies_with_the_witness_key(
    tmp_path: Path, keys: tuple[Ed25519PrivateKey, Ed25519PrivateKey]
) -> None:
    log_key, witness_key = keys
    export = write_export(tmp_path / "e.jsonl", log_key, 25, [witness_key])
    public = VerifierKey(ORIGIN, log_key.public_key()).encode()
    key_file = tmp_path / "witness.vkey"
    key_file.write_text(encode_cosigner_key(witness_key, WITNESS) + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert run(export, public, None, [str(key_file)], out=out, err=err) == 0, err.getvalue()
    assert "25 verified" in out.getvalue()
    assert f"witnessed  2023-11-14T22:13:20+00:00 by {WITNESS}" in out.getvalue()


def test_an_export_without_the_witness_cosignature_fails(
    tmp_path: Path, keys: tuple[Ed25519PrivateKey, Ed25519PrivateKey]
) -> None:
    log_key, witness_key = keys
    unwitnessed = write_export(tmp_path / "u.jsonl", log_key, 8, [])
    public = VerifierKey(ORIGIN, log_key.public_key()).encode()
    out, err = io.StringIO(), io.StringIO()
    status = run(
        unwitnessed, public, None, [encode_cosigner_key(witness_key, WITNESS)], out=out, err=err
    )
    assert status == 1
    assert "FAILED: export's checkpoint is not witnessed" in err.getvalue()
    assert f"no cosignature by witness {WITNESS}" in err.getvalue()
    # Without --witness-key the same export verifies: the log's signature alone.
    assert run(unwitnessed, public, out=io.StringIO(), err=io.StringIO()) == 0
    # Another witness's cosignature does not count for this one.
    other = write_export(tmp_path / "o.jsonl", log_key, 8, [Ed25519PrivateKey.generate()])
    with pytest.raises(ExportVerificationError, match="not witnessed"), other.open("rb") as lines:
        verify_export(
            lines,
            VerifierKey(ORIGIN, log_key.public_key()),
            witnesses=[VerifierKey(WITNESS, witness_key.public_key(), 0x04)],
        )


def test_bad_arguments_exit_2(
    tmp_path: Path, keys: tuple[Ed25519PrivateKey, Ed25519PrivateKey]
) -> None:
    log_key, witness_key = keys
    export = write_export(tmp_path / "e.jsonl", log_key, 3, [witness_key])
    public = VerifierKey(ORIGIN, log_key.public_key()).encode()
    err = io.StringIO()
    # A log key given as the witness key (type 0x01, not 0x04).
    assert run(export, public, None, [public], out=io.StringIO(), err=err) == 2
    assert "--witness-key" in err.getvalue()
    err = io.StringIO()
    assert run(export, "not-a-key", out=io.StringIO(), err=err) == 2
    assert "--public-key" in err.getvalue()
    not_json = tmp_path / "head.json"
    not_json.write_text('{"tree_size": 3}')
    assert run(export, public, not_json, out=io.StringIO(), err=io.StringIO()) == 2


def test_the_verifier_imports_nothing_of_the_platform(
    tmp_path: Path, keys: tuple[Ed25519PrivateKey, Ed25519PrivateKey]
) -> None:
    """`python -m mpa_audit_verify` verifies an export, and afterwards no module of a service,
    of the shared plumbing, of the contracts, nor a database or HTTP library is loaded."""
    log_key, witness_key = keys
    export = write_export(tmp_path / "e.jsonl", log_key, 40, [witness_key])
    public = VerifierKey(ORIGIN, log_key.public_key()).encode()
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['mpa-audit-verify', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('mpa_audit_verify', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    status = exit.code\n"
        "roots = sorted({m.split('.')[0] for m in sys.modules})\n"
        "print('MODULES', ' '.join(roots))\n"
        "sys.exit(status)\n"
    )
    witness = encode_cosigner_key(witness_key, WITNESS)
    command = [sys.executable, "-c", probe, str(export), "--public-key", public]
    done = subprocess.run(
        [*command, "--witness-key", witness], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "40 verified" in done.stdout
    loaded = set(done.stdout.split("MODULES ", 1)[1].split())
    forbidden = {
        "mpa_audit", "mpa_intake", "mpa_referral", "mpa_notification", "mpa_common",
        "mpa_contracts", "mpa_cli", "sqlalchemy", "asyncpg", "aiokafka", "fastapi", "httpx",
        "pydantic",
    }  # fmt: skip
    assert loaded & forbidden == set()
    assert "mpa_audit_verify" in loaded


def test_the_package_depends_on_cryptography_only() -> None:
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    assert [d.split("=")[0] for d in project["dependencies"]] == ["cryptography"]
    sources = "\n".join(p.read_text() for p in (PACKAGE / "src").rglob("*.py"))
    for name in ("mpa_audit.", "mpa_common", "mpa_contracts", "sqlalchemy", "fastapi"):
        assert f"import {name}" not in sources
        assert f"from {name}" not in sources
