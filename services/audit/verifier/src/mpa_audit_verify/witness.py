"""A transparency-log witness (c2sp.org/tlog-witness): cosigns only consistent checkpoints.

For each log it is configured with (origin and public key) the witness keeps the latest
checkpoint it cosigned. Asked to cosign a new one (``add-checkpoint``: an old size, an RFC
6962 consistency proof from it, the signed checkpoint) it checks, in the specification's
order and with its status codes:

- the body parses (400), the origin is known (404), the log's signature verifies (403);
- the old size is not above the new one (400) and equals the size it last cosigned (409,
  with that size in the body, so the log can retry with a proof from there);
- an empty tree has the empty root, an old size of 0 has no proof, equal sizes have equal
  roots, and otherwise the proof verifies from its stored root to the new one (422);

then persists the new checkpoint and only then answers with its cosignature line. Check and
store happen under one lock, so two requests cannot roll the state back. A log that rewrote
its history gets a 422 from then on; the witness keeps such log-signed refused requests as
evidence of the log's misbehaviour.

Pure apart from `FileWitnessState` (files in a directory, replaced atomically and fsynced);
the HTTP front is `mpa audit witness`.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit_verify.checkpoint import TreeHead, read_checkpoint, verify_signed_tree_head
from mpa_audit_verify.cosignature import cosign, encode_cosigner_key
from mpa_audit_verify.hashing import EMPTY_ROOT, HASH_SIZE
from mpa_audit_verify.note import CheckpointError, VerifierKey, split_note
from mpa_audit_verify.proofs import ProofError, verify_consistency

MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = 1 << 16
"""A request body holds a few lines and one checkpoint: anything larger is refused."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")


class WitnessRefusal(Exception):
    """The witness does not cosign: an HTTP status, a reason, and the response body."""

    def __init__(
        self, status: int, reason: str, *, body: str | None = None, content_type: str = ""
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body = body if body is not None else reason + "\n"
        self.content_type = content_type or "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """The body of ``POST <prefix>/add-checkpoint``."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}\n"]
        lines += [base64.b64encode(h).decode("ascii") + "\n" for h in self.proof]
        return ("".join(lines) + "\n" + self.checkpoint).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        """Raises WitnessRefusal(400) for a body that does not follow the format."""
        if len(body) > MAX_REQUEST_BYTES:
            raise WitnessRefusal(400, f"request exceeds {MAX_REQUEST_BYTES} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessRefusal(400, "request is not UTF-8") from None
        head, separator, checkpoint = text.partition("\n\n")
        if not separator:
            raise WitnessRefusal(400, "request has no empty line before the checkpoint")
        old_line, *proof_lines = head.split("\n")
        match = _OLD_LINE.fullmatch(old_line)
        if match is None:
            raise WitnessRefusal(400, "first line must be 'old <size>'")
        if len(proof_lines) > MAX_PROOF_LINES:
            raise WitnessRefusal(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = []
        for line in proof_lines:
            try:
                value = base64.b64decode(line, validate=True)
            except binascii.Error:
                raise WitnessRefusal(400, "a consistency proof line is not base64") from None
            if len(value) != HASH_SIZE:
                raise WitnessRefusal(
                    400, f"a consistency proof line is not a {HASH_SIZE}-byte hash"
                )
            proof.append(value)
        return cls(int(match.group(1)), tuple(proof), checkpoint)


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """The latest checkpoint the witness cosigned for one log, with its cosignature."""

    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint: str


class WitnessState(Protocol):
    """Where the witness keeps its latest cosigned checkpoint per log (durably)."""

    def load(self, origin: str) -> WitnessedCheckpoint | None: ...

    def store(self, witnessed: WitnessedCheckpoint) -> None:
        """Persist before returning: the cosignature is sent only afterwards."""

    def record_refusal(self, origin: str, reason: str, request: bytes) -> None:
        """Keep a log-signed request the witness refused (evidence of a fork)."""


class MemoryWitnessState:
    """A witness state in memory (tests)."""

    def __init__(self) -> None:
        self.checkpoints: dict[str, WitnessedCheckpoint] = {}
        self.refusals: list[tuple[str, str, bytes]] = []

    def load(self, origin: str) -> WitnessedCheckpoint | None:
        return self.checkpoints.get(origin)

    def store(self, witnessed: WitnessedCheckpoint) -> None:
        self.checkpoints[witnessed.origin] = witnessed

    def record_refusal(self, origin: str, reason: str, request: bytes) -> None:
        self.refusals.append((origin, reason, request))


def origin_hash(origin: str) -> str:
    """How the monitoring API names a log: hex SHA-256 of its origin line."""
    return hashlib.sha256(origin.encode()).hexdigest()


class StateDirectoryInUse(RuntimeError):
    """Another witness process holds the state directory."""


class FileWitnessState:
    """One JSON file per log in ``directory`` (replaced atomically, fsynced), refused
    requests appended to ``refusals.jsonl``; an exclusive lock on the directory keeps a
    second witness process from sharing (and so forking) the state."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_file: IO[str] | None = (directory / "witness.lock").open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise StateDirectoryInUse(f"another witness uses {directory}") from None

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _path(self, origin: str) -> Path:
        return self.directory / f"{origin_hash(origin)}.json"

    def load(self, origin: str) -> WitnessedCheckpoint | None:
        path = self._path(origin)
        if not path.exists():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
        return WitnessedCheckpoint(
            document["origin"],
            int(document["tree_size"]),
            base64.b64decode(document["root_hash"]),
            document["checkpoint"],
        )

    def store(self, witnessed: WitnessedCheckpoint) -> None:
        document = {
            "origin": witnessed.origin,
            "tree_size": witnessed.tree_size,
            "root_hash": base64.b64encode(witnessed.root_hash).decode("ascii"),
            "checkpoint": witnessed.checkpoint,
        }
        path = self._path(witnessed.origin)
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            json.dump(document, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def record_refusal(self, origin: str, reason: str, request: bytes) -> None:
        entry = {
            "origin": origin,
            "reason": reason,
            "at": int(time.time()),
            "request": request.decode("utf-8", errors="replace"),
        }
        with (self.directory / "refusals.jsonl").open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")
            file.flush()
            os.fsync(file.fileno())


class Witness:
    """Cosigns checkpoints of the logs in ``logs`` (origin -> the log's verifier key)."""

    def __init__(
        self,
        name: str,
        private_key: Ed25519PrivateKey,
        logs: Mapping[str, VerifierKey],
        state: WitnessState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._key = private_key
        self._logs = dict(logs)
        self._state = state
        self._clock = clock
        self._lock = threading.Lock()
        self.verifier_key = encode_cosigner_key(private_key, name)
        """The cosigner key string auditors pass to `mpa audit verify --witness-key`."""

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line(s) for the request's checkpoint; raises WitnessRefusal."""
        request = AddCheckpointRequest.parse(body)
        head = self._verified_head(request.checkpoint)
        if request.old_size > head.tree_size:
            raise WitnessRefusal(
                400, f"old size {request.old_size} is above the checkpoint's {head.tree_size}"
            )
        with self._lock:
            latest = self._state.load(head.origin)
            latest_size = latest.tree_size if latest else 0
            if request.old_size != latest_size:
                raise WitnessRefusal(
                    409,
                    f"the latest cosigned size is {latest_size}, not {request.old_size}",
                    body=f"{latest_size}\n",
                    content_type=SIZE_CONTENT_TYPE,
                )
            try:
                _check_consistency(request, head, latest)
            except WitnessRefusal as refusal:
                self._state.record_refusal(head.origin, refusal.reason, body)
                raise
            text, _ = split_note(request.checkpoint)
            line = cosign(text, self._key, self.name, int(self._clock()))
            self._state.store(
                WitnessedCheckpoint(
                    head.origin, head.tree_size, head.root_hash, request.checkpoint + line
                )
            )
        return line

    def latest(self, origin: str) -> str | None:
        """The latest checkpoint cosigned for ``origin``, with the log's signature and the
        cosignature (the monitoring API's answer), or None."""
        witnessed = self._state.load(origin)
        return witnessed.checkpoint if witnessed else None

    def latest_by_hash(self, hashed_origin: str) -> str | None:
        for origin in self._logs:
            if origin_hash(origin) == hashed_origin:
                return self.latest(origin)
        return None

    def _verified_head(self, checkpoint: str) -> TreeHead:
        try:
            origin = read_checkpoint(checkpoint).origin
        except CheckpointError as error:
            raise WitnessRefusal(400, f"checkpoint does not parse: {error}") from None
        key = self._logs.get(origin)
        if key is None:
            raise WitnessRefusal(404, f"unknown log {origin!r}")
        try:
            return verify_signed_tree_head(checkpoint, key.public_key, key.name, origin=origin)
        except CheckpointError as error:
            raise WitnessRefusal(
                403, f"checkpoint is not signed by the log's key: {error}"
            ) from None


def _check_consistency(
    request: AddCheckpointRequest, head: TreeHead, latest: WitnessedCheckpoint | None
) -> None:
    if head.tree_size == 0 and head.root_hash != EMPTY_ROOT:
        raise WitnessRefusal(422, "a checkpoint of size 0 must have the empty tree's root")
    if request.old_size == 0:
        if request.proof:
            raise WitnessRefusal(422, "a consistency proof from size 0 must be empty")
        return
    assert latest is not None  # old size == the latest size > 0
    if request.old_size == head.tree_size:
        if head.root_hash != latest.root_hash:
            raise WitnessRefusal(
                422, f"a different root for size {head.tree_size} than the one cosigned"
            )
        return
    try:
        verify_consistency(
            latest.tree_size, head.tree_size, latest.root_hash, head.root_hash, request.proof
        )
    except ProofError as error:
        raise WitnessRefusal(
            422,
            f"not consistent with the checkpoint of size {latest.tree_size} cosigned before: "
            f"{error}",
        ) from None
