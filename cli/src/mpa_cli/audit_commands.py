"""`mpa audit`: offline verification of audit-log exports, the tree-head public key, and a
witness that cosigns the log's tree heads.

`verify` needs no database and no network: an auditor runs it on an export downloaded from
`GET /v1/audit/export`, with the public key obtained beforehand through a channel they trust
(`mpa audit public-key` on the audit host, or `GET /v1/audit/public-key`), and the keys of
the witnesses they rely on (`mpa audit witness-key` on each witness's host).
"""

from __future__ import annotations

import os
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


def _dev_witness_dir() -> Path:
    """Development's witness folder, under the platform's home (never the cwd)."""
    from mpa_cli.audit_witness import DEV_WITNESS_DIR
    from mpa_common.paths import resolve_home_path

    return resolve_home_path(DEV_WITNESS_DIR)


def _dev_witness_key_file() -> Path:
    return _dev_witness_dir() / "witness-key.pem"


def _production() -> bool:
    return os.environ.get("MPA_ENV", "development") == "production"


def prepare_local_witness() -> None:
    """Create the development keys `make run` needs before its processes start (the audit
    log's signing key, the witness's key and its published verifier key), so the audit
    service and the witness never race to create the same key. Production has its own."""
    if _production():
        return
    from mpa_audit.adapters.signing import load_signer
    from mpa_audit.settings import AuditSettings
    from mpa_cli.audit_witness import DEFAULT_NAME, write_verifier_key
    from mpa_common.auth import load_or_create_dev_key

    load_signer(AuditSettings())
    key = load_or_create_dev_key(_dev_witness_key_file())
    write_verifier_key(key, DEFAULT_NAME, _dev_witness_dir())


@audit_app.command("witness")
def witness(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8005, help="Port to listen on"),
    name: str = typer.Option(
        "witness.mpa.example/local", help="The witness's name (its key name; a schema-less URL)"
    ),
    key_file: Path | None = typer.Option(
        None,
        help="The witness's Ed25519 key (PKCS#8 PEM); development creates "
        ".local/audit/witness/witness-key.pem",
    ),
    state_dir: Path | None = typer.Option(
        None,
        help="Where it keeps the last checkpoint it cosigned per log (development: "
        ".local/audit/witness)",
    ),
    log_key: list[str] = typer.Option(
        [],
        "--log-key",
        help="A log's verifier key `<origin>+<id>+<key>` (or a file) it witnesses; repeat for "
        "several (development: the local audit log's key)",
    ),
) -> None:
    """Run a C2SP tlog-witness: it cosigns a log's checkpoint only when a consistency proof
    shows it extends the last one it cosigned, and refuses (422) a rewritten history."""
    import uvicorn

    from mpa_audit_verify.command import UsageError
    from mpa_audit_verify.command import log_key as parse_log_key
    from mpa_audit_verify.note import load_private_key_pem
    from mpa_audit_verify.witness import StateDirectoryInUse
    from mpa_cli.audit_witness import build_witness, witness_app, write_verifier_key
    from mpa_common.auth import load_or_create_dev_key

    if _production() and (key_file is None or state_dir is None or not log_key):
        typer.secho(
            "error: in production give --key-file, --state-dir and --log-key (no development "
            "defaults)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    directory = state_dir or _dev_witness_dir()
    try:
        key = (
            load_private_key_pem(key_file.read_bytes())
            if key_file is not None
            else load_or_create_dev_key(_dev_witness_key_file())
        )
        if log_key:
            logs = [parse_log_key(value) for value in log_key]
        else:
            from mpa_audit.adapters.signing import load_signer
            from mpa_audit.settings import AuditSettings

            logs = [load_signer(AuditSettings()).public]
        served, state = build_witness(name, key, logs, directory)
    except (OSError, ValueError, UsageError, StateDirectoryInUse) as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
    vkey = write_verifier_key(key, name, directory)
    typer.echo(f"witness {name} on http://{host}:{port}")
    typer.echo(f"  cosigner key  {vkey}")
    typer.echo(f"  witnesses     {', '.join(log.name for log in logs)}")
    typer.echo(f"  state         {directory}")
    uvicorn.run(witness_app(served, state), host=host, port=port, log_level="warning")


@audit_app.command("witness-key")
def witness_key(
    name: str = typer.Option("witness.mpa.example/local", help="The witness's name"),
    key_file: Path | None = typer.Option(None, help="The witness's key (development default)"),
) -> None:
    """Print the witness's cosigner key, what auditors pass to `mpa audit verify
    --witness-key` (and the audit service to AUDIT_WITNESS_KEY)."""
    from mpa_audit_verify.cosignature import encode_cosigner_key
    from mpa_audit_verify.note import CheckpointError, load_private_key_pem

    path = key_file or _dev_witness_key_file()
    try:
        key = load_private_key_pem(path.read_bytes())
    except (OSError, CheckpointError) as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
    typer.echo(encode_cosigner_key(key, name))
