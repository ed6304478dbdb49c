"""`mpa audit`: offline verification of audit-log exports, and the tree-head public key.

`verify` needs no database and no network: an auditor runs it on an export downloaded from
`GET /v1/audit/export`, with the public key obtained beforehand through a channel they trust
(`mpa audit public-key` on the audit host, or `GET /v1/audit/public-key`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

audit_app = typer.Typer(help="Audit log: verify exports offline; show the signing public key.")


def _read_verifier_key(value: str) -> str:
    """The verifier key string given, or read from the file it names."""
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value.strip()


def _read_checkpoint(path: Path) -> str:
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
            raise typer.BadParameter(f"{path} holds JSON without a `checkpoint` string")
        return checkpoint
    return text


@audit_app.command("verify")
def verify(
    export: Path = typer.Argument(..., exists=True, dir_okay=False, help="Export (JSON Lines)"),
    public_key: str = typer.Option(
        ..., "--public-key", help="Verifier key string `<name>+<id>+<key>`, or a file holding it"
    ),
    previous_tree_head: Path | None = typer.Option(
        None,
        "--previous-tree-head",
        exists=True,
        dir_okay=False,
        help="An earlier signed tree head you kept: the export must be consistent with it",
    ),
) -> None:
    """Recompute the Merkle root of EXPORT, check its signed tree head, and its consistency
    with an earlier tree head. Exit status 0 when everything verifies, 1 otherwise."""
    from mpa_audit.domain.checkpoint import CheckpointError, parse_verifier_key
    from mpa_audit.domain.export import ExportVerificationError, verify_export

    try:
        key = parse_verifier_key(_read_verifier_key(public_key))
    except CheckpointError as error:
        raise typer.BadParameter(str(error), param_hint="--public-key") from error
    previous = _read_checkpoint(previous_tree_head) if previous_tree_head else None
    started = time.perf_counter()
    try:
        with export.open("rb") as lines:
            result = verify_export(lines, key, previous)
    except ExportVerificationError as error:
        typer.secho(f"FAILED: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
    head = result.tree_head
    typer.secho(f"OK: {head.origin}", fg=typer.colors.GREEN)
    typer.echo(f"  leaves     {result.start}..{head.tree_size - 1} ({result.leaves:,} verified)")
    typer.echo(f"  tree size  {head.tree_size:,}")
    typer.echo(f"  root hash  {head.root_hash.hex()}")
    typer.echo(f"  signed at  {head.timestamp.isoformat()} by {key.name}")
    if result.previous is not None:
        typer.echo(
            f"  consistent with the previous tree head of {result.previous.tree_size:,} leaves"
        )
    typer.echo(f"  in {time.perf_counter() - started:.2f} s")


@audit_app.command("public-key")
def public_key() -> None:
    """Print the verifier key of the configured tree-head signing key (AUDIT_SIGNING_KEY_FILE;
    in development the key is created on first use)."""
    from mpa_audit.adapters.signing import SigningKeyError, load_signer
    from mpa_audit.settings import AuditSettings

    try:
        typer.echo(load_signer(AuditSettings()).verifier_key)
    except SigningKeyError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
