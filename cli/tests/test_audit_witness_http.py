"""`mpa audit witness`'s HTTP front: the tlog-witness endpoints, status codes and content
types (the checks themselves are tested in the verifier package)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit_verify.checkpoint import TreeHead, sign_tree_head
from mpa_audit_verify.cosignature import add_signature_lines, parse_cosigner_key, verify_cosignature
from mpa_audit_verify.hashing import leaf_hash
from mpa_audit_verify.note import VerifierKey
from mpa_audit_verify.witness import AddCheckpointRequest
from mpa_cli.audit_witness import build_witness, witness_app, write_verifier_key

ORIGIN = "audit.test.example/log"


def checkpoint(key: Ed25519PrivateKey, size: int) -> str:
    # One leaf: the root is the leaf's hash.
    root = leaf_hash(b"only") if size == 1 else hashlib.sha256(b"").digest()
    return sign_tree_head(TreeHead(ORIGIN, size, root, datetime.now(UTC)), key, ORIGIN)


async def test_the_witness_serves_add_checkpoint_and_its_latest_checkpoint(
    tmp_path: Path,
) -> None:
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    witness, state = build_witness(
        "witness.test.example/w1",
        witness_key,
        [VerifierKey(ORIGIN, log_key.public_key())],
        tmp_path,
    )
    vkey = write_verifier_key(witness_key, "witness.test.example/w1", tmp_path)
    app = witness_app(witness, state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://witness") as client:
        hashed = hashlib.sha256(ORIGIN.encode()).hexdigest()
        assert (await client.get(f"/{hashed}/checkpoint")).status_code == 404
        assert (await client.get("/verifier-key")).text.strip() == vkey

        note = checkpoint(log_key, 1)
        body = AddCheckpointRequest(0, (), note).encode()
        response = await client.post("/add-checkpoint", content=body)
        assert response.status_code == 200, response.text
        assert response.text.startswith("\u2014 witness.test.example/w1 ")
        cosigned = add_signature_lines(note, response.text)
        assert verify_cosignature(cosigned, parse_cosigner_key(vkey))

        stale = await client.post("/add-checkpoint", content=body)
        assert stale.status_code == 409
        assert stale.headers["content-type"].startswith("text/x.tlog.size")
        assert stale.text == "1\n"

        latest = await client.get(f"/{hashed}/checkpoint")
        assert latest.status_code == 200
        assert latest.text == cosigned

        unknown = Ed25519PrivateKey.generate()
        forged = await client.post(
            "/add-checkpoint", content=AddCheckpointRequest(1, (), checkpoint(unknown, 1)).encode()
        )
        assert forged.status_code == 403
        too_large = await client.post("/add-checkpoint", content=b"x" * 70_000)
        assert too_large.status_code == 413
        assert (await client.post("/add-checkpoint", content=b"nonsense")).status_code == 400
    state.close()
