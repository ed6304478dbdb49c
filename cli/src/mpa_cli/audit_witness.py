"""`mpa audit witness`: a C2SP tlog-witness over HTTP, for the audit log (or any log whose
checkpoint key it is given).

    POST /add-checkpoint              c2sp.org/tlog-witness: old size, proof, checkpoint
    GET  /<sha256(origin) hex>/checkpoint   the latest checkpoint it cosigned (monitors)
    GET  /verifier-key                its cosigner key (still: obtain it out of band)
    GET  /healthz

The checks and the state live in `mpa_audit_verify.witness` (dependency-free); this module
only serves them. The state directory holds one file per log, replaced atomically and
fsynced before a cosignature is returned, and `refusals.jsonl`: log-signed checkpoints it
refused (evidence of a rewritten history). Losing the state directory means the witness
must be retired with its key, not restarted: it would cosign a fork.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from mpa_audit_verify.cosignature import encode_cosigner_key
from mpa_audit_verify.note import VerifierKey
from mpa_audit_verify.witness import (
    MAX_REQUEST_BYTES,
    FileWitnessState,
    Witness,
    WitnessRefusal,
)

log = logging.getLogger("mpa.witness")

DEFAULT_PORT = 8005
DEFAULT_NAME = "witness.mpa.example/local"
DEV_WITNESS_DIR = Path(".local/audit/witness")
"""Development's witness: key, verifier key and state (never for production)."""


def vkey_path(state_dir: Path) -> Path:
    return state_dir / "witness.vkey"


def write_verifier_key(key: Ed25519PrivateKey, name: str, state_dir: Path) -> str:
    """Publish the cosigner key beside the state (for the local audit service and auditors)."""
    text = encode_cosigner_key(key, name)
    state_dir.mkdir(parents=True, exist_ok=True)
    vkey_path(state_dir).write_text(text + "\n", encoding="utf-8")
    return text


def witness_app(witness: Witness, state: FileWitnessState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        lifespan=lifespan,
        title="MPA audit witness",
        description="A C2SP tlog-witness: cosigns only checkpoints consistent with the last "
        "one it cosigned for the log.",
        docs_url=None,
        redoc_url=None,
    )

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return PlainTextResponse("request too large\n", status_code=413)
        try:
            # fsync inside: off the event loop.
            line = await asyncio.to_thread(witness.add_checkpoint, bytes(body))
        except WitnessRefusal as refused:
            level = logging.ERROR if refused.status == 422 else logging.INFO
            log.log(
                level,
                "checkpoint refused",
                extra={"status": refused.status, "reason": refused.reason[:200]},
            )
            return Response(
                refused.body, status_code=refused.status, media_type=refused.content_type
            )
        return PlainTextResponse(line)

    @app.get("/verifier-key")
    async def verifier_key() -> PlainTextResponse:
        return PlainTextResponse(witness.verifier_key + "\n")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/{hashed_origin}/checkpoint")
    async def latest(hashed_origin: str) -> PlainTextResponse:
        note = witness.latest_by_hash(hashed_origin)
        if note is None:
            return PlainTextResponse("no checkpoint cosigned for this log\n", status_code=404)
        return PlainTextResponse(note)

    return app


def build_witness(
    name: str, key: Ed25519PrivateKey, logs: list[VerifierKey], state_dir: Path
) -> tuple[Witness, FileWitnessState]:
    state = FileWitnessState(state_dir)
    witness = Witness(name, key, {log_key.name: log_key for log_key in logs}, state)
    return witness, state
