"""`mpa-audit-verify` (and `mpa audit verify`): verify an audit-log export offline.

    mpa-audit-verify EXPORT --public-key KEY [--previous-tree-head FILE] [--witness-key KEY ...]

No database, no network, nothing of the platform's services: an auditor runs it on an export
downloaded from `GET /v1/audit/export`, with the log's public key obtained beforehand through
a channel they trust (and the public keys of the witnesses they rely on). Exit status 0 when
everything verifies, 1 when the export does not, 2 for unusable arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from mpa_audit_verify.cosignature import parse_cosigner_key
from mpa_audit_verify.export import ExportVerificationError, VerifiedExport, verify_export
from mpa_audit_verify.note import CheckpointError, VerifierKey, parse_verifier_key


class UsageError(ValueError):
    """An argument cannot be used (a key that does not parse, a file without a checkpoint)."""


def read_key_text(value: str) -> str:
    """The verifier key string given, or read from the file it names."""
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value.strip()


def read_checkpoint(path: Path) -> str:
    """A signed checkpoint note from a file: the note itself, or JSON holding it in
    `checkpoint` (a saved `GET /v1/audit/tree-head` response or an export's header line)."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:  # an export: the checkpoint is in its header line
            document = json.loads(text.split("\n", 1)[0])
        checkpoint = document.get("checkpoint") if isinstance(document, dict) else None
        if not isinstance(checkpoint, str):
            raise UsageError(f"{path} holds JSON without a `checkpoint` string")
        return checkpoint
    return text


def log_key(value: str) -> VerifierKey:
    try:
        return parse_verifier_key(read_key_text(value))
    except CheckpointError as error:
        raise UsageError(f"--public-key: {error}") from error


def witness_key(value: str) -> VerifierKey:
    try:
        return parse_cosigner_key(read_key_text(value))
    except CheckpointError as error:
        raise UsageError(f"--witness-key: {error}") from error


def verify_file(
    export: Path,
    key: VerifierKey,
    previous_checkpoint: str | None = None,
    witnesses: Sequence[VerifierKey] = (),
) -> VerifiedExport:
    """Verify the export in ``export``; raises ExportVerificationError."""
    with export.open("rb") as lines:
        return verify_export(
            lines, key, previous_checkpoint, witnesses=witnesses, now=datetime.now(UTC)
        )


def report(result: VerifiedExport, key: VerifierKey, seconds: float) -> list[str]:
    """What a successful verification established, one line each."""
    head = result.tree_head
    lines = [
        f"OK: {head.origin}",
        f"  leaves     {result.start}..{head.tree_size - 1} ({result.leaves:,} verified)",
        f"  tree size  {head.tree_size:,}",
        f"  root hash  {head.root_hash.hex()}",
        f"  signed at  {head.timestamp.isoformat()} by {key.name}",
    ]
    for cosignature in result.cosignatures:
        lines.append(
            f"  witnessed  {cosignature.timestamp.isoformat()} by {cosignature.witness} "
            "(consistent with every checkpoint it cosigned before)"
        )
    if result.previous is not None:
        lines.append(
            f"  consistent with the previous tree head of {result.previous.tree_size:,} leaves"
        )
    lines.append(f"  in {seconds:.2f} s")
    return lines


def run(
    export: Path,
    public_key: str,
    previous_tree_head: Path | None = None,
    witness_keys: Sequence[str] = (),
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """The whole command: exit status 0 (verified), 1 (not verified) or 2 (bad arguments)."""
    try:
        key = log_key(public_key)
        witnesses = [witness_key(value) for value in witness_keys]
        previous = read_checkpoint(previous_tree_head) if previous_tree_head else None
    except (UsageError, OSError, ValueError) as error:
        print(f"error: {error}", file=err)
        return 2
    started = time.perf_counter()
    try:
        result = verify_file(export, key, previous, witnesses)
    except ExportVerificationError as error:
        print(f"FAILED: {error}", file=err)
        return 1
    except OSError as error:
        print(f"error: cannot read {export}: {error}", file=err)
        return 2
    for line in report(result, key, time.perf_counter() - started):
        print(line, file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mpa-audit-verify",
        description="Verify an MPA audit-log export offline: recompute its Merkle root, check "
        "the signed tree head, its witnesses' cosignatures and its consistency with a tree head "
        "you kept.",
    )
    parser.add_argument("export", type=Path, help="the export (JSON Lines)")
    parser.add_argument(
        "--public-key",
        required=True,
        help="the log's verifier key `<name>+<id>+<key>`, or a file holding it",
    )
    parser.add_argument(
        "--previous-tree-head",
        type=Path,
        help="an earlier signed tree head you kept: the export must be consistent with it",
    )
    parser.add_argument(
        "--witness-key",
        action="append",
        default=[],
        help="a witness's cosigner key `<name>+<id>+<key>` (or a file): the export's tree head "
        "must carry its cosignature; repeat for several witnesses",
    )
    arguments = parser.parse_args(argv)
    return run(
        arguments.export, arguments.public_key, arguments.previous_tree_head, arguments.witness_key
    )


if __name__ == "__main__":
    sys.exit(main())
