"""`mpa audit`: offline verification of audit-log exports, and the tree-head public key.

`verify` needs no database and no network: an auditor runs it on an export downloaded from
`GET /v1/audit/export`, with the public key obtained beforehand through a channel they trust
(`mpa audit public-key` on the audit host, or `GET /v1/audit/public-key`).
"""

from __future__ import annotations

from pathlib import Path

import typer

audit_app = typer.Typer(help="Audit log: verify exports offline; show the signing public key.")


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
    witness_key: list[str] = typer.Option(
        [],
        "--witness-key",
        help="A witness's cosigner key `<name>+<id>+<key>` (or a file): the export's tree head "
        "must carry its cosignature; repeat for several witnesses",
    ),
) -> None:
    """Recompute the Merkle root of EXPORT, check its signed tree head, its witnesses'
    cosignatures and its consistency with an earlier tree head. Exit status 0 when everything
    verifies, 1 otherwise. The same as `mpa-audit-verify`, which needs nothing but the
    verifier package (`mpa-audit-verify` on its own)."""
    # Only the dependency-free verifier is imported: nothing of the services.
    from mpa_audit_verify.command import run

    status = run(export, public_key, previous_tree_head, witness_key)
    if status:
        raise typer.Exit(status)


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
