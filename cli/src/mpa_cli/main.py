"""The `mpa` command: the local stack, the platform, and operator/developer tools.

Typer gives typed options, help text and shell completion for free.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import typer

from mpa_cli.audit_commands import audit_app, prepare_local_witness
from mpa_cli.browser import browser_app
from mpa_cli.demo import demo_app
from mpa_cli.dlq_commands import dlq_app
from mpa_cli.intake_commands import intake_app
from mpa_cli.notification_commands import smtp_app
from mpa_cli.stack import control
from mpa_cli.stack.console import StackError, step
from mpa_cli.stack.layout import Layout
from mpa_cli.stack.migrate import migrate_all
from mpa_common.settings import SERVICE_PORTS
from mpa_console.settings import DEFAULT_PORT as CONSOLE_PORT

app = typer.Typer(help="MPA Referral Platform command line.", no_args_is_help=True)
stack_app = typer.Typer(help="The local Kafka and PostgreSQL the platform runs on.")
db_app = typer.Typer(help="Service databases.")
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(audit_app, name="audit")
app.add_typer(intake_app, name="intake")
app.add_typer(dlq_app, name="dlq")
app.add_typer(smtp_app)  # mpa smtp-sink
app.add_typer(browser_app, name="browser")


def _fail(error: StackError) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@stack_app.command("up")
def stack_up(
    migrate: bool = typer.Option(True, help="Apply every service's migrations."),
    topics: bool = typer.Option(True, help="Create the contracts' topics."),
) -> None:
    """Install what is missing, start PostgreSQL and Kafka, migrate, create topics."""
    try:
        control.up(Layout.discover(), migrate=migrate, topics=topics)
    except StackError as error:
        _fail(error)


@stack_app.command("down")
def stack_down() -> None:
    """Stop the local Kafka and PostgreSQL this checkout started."""
    try:
        control.down(Layout.discover())
    except StackError as error:
        _fail(error)


@stack_app.command("status")
def stack_status() -> None:
    """Show whether the local Kafka and PostgreSQL are running."""
    for name, state in control.status(Layout.discover()).items():
        typer.echo(f"{name:9} {state}")


@stack_app.command("acls")
def stack_acls(
    prefix: str = typer.Option("", help="Topic prefix of the deployment (KAFKA_TOPIC_PREFIX)"),
) -> None:
    """Print the ACLs each service's Kafka principal needs (derived from the topic registry
    and the services' subscriptions): what an operator grants on a cluster of their own."""
    from mpa_cli.stack.access import access_plan, kafka_principal, service_usernames

    users = service_usernames()
    for grant in access_plan():
        named = grant.prefixed(prefix)
        typer.echo(
            f"ALLOW {kafka_principal(users[named.service]):24} {named.operation.value:5} "
            f"{named.resource.value:5} LITERAL {named.name}"
        )


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply every service's Alembic migrations."""
    try:
        migrate_all(Layout.discover())
    except StackError as error:
        _fail(error)


@app.command("token")
def token(
    role: list[str] = typer.Option(
        ...,
        "--role",
        help="operator, caseworker, supervisor, "
        "partner, auditor, admin or service; repeat for several",
    ),
    subject: str | None = typer.Option(None, help="Token subject (default: a random dev id)"),
    partner_id: str | None = typer.Option(None, help="The partner a `partner` token acts for"),
    country: str | None = typer.Option(None, help="ISO 3166-1 alpha-2 country (office)"),
    team: str | None = typer.Option(None, help="The user's team code, for case scopes"),
    agency: str | None = typer.Option(None, help="The user's agency code, for case scopes"),
    ttl: int = typer.Option(8 * 3600, help="Lifetime in seconds"),
) -> None:
    """Print a development bearer token signed with the local key (refused in production)."""
    import uuid as _uuid

    from mpa_common.auth import DevKeyMissing, Role, mint_dev_token
    from mpa_common.paths import HomeNotFound

    try:
        roles = [Role(r) for r in role]
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    try:
        minted = mint_dev_token(
            roles,
            subject=subject,
            partner_id=_uuid.UUID(partner_id) if partner_id else None,
            country=country,
            team=team,
            agency=agency,
            ttl_seconds=ttl,
        )
    except (DevKeyMissing, HomeNotFound) as error:
        # Never a fresh key here: a token no service knows the key of is worse than none.
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo(minted)


@app.command("run")
def run_platform() -> None:
    """Start the stack, then the four services and the console under honcho; Ctrl-C stops
    them."""
    layout = Layout.discover()
    try:
        control.up(layout)
    except StackError as error:
        _fail(error)
    # The audit log's and its witness's development keys exist before either process starts.
    prepare_local_witness()
    step("Starting the services (honcho, deploy/local/Procfile); Ctrl-C stops them")
    console_port = os.environ.get("CONSOLE_PORT") or str(CONSOLE_PORT)
    typer.secho(
        f"    console       http://127.0.0.1:{console_port}/   <- open this in a browser",
        bold=True,
    )
    for service, port in SERVICE_PORTS.items():
        typer.echo(f"    {service:13} http://127.0.0.1:{port}/docs   (ready: /readyz)")
    typer.echo("    witness       http://127.0.0.1:8005 (cosigns the audit log's tree heads)")
    typer.echo("    e-mails       .local/mail/*.eml (local SMTP sink)")
    typer.echo(
        "\n    Try it: open the console and sign in with a role (development sign-in); the\n"
        '    README\'s "The web console" walks the story screen by screen. Or, in another\n'
        "    terminal, `.venv/bin/mpa demo` walks one fictional referral through the APIs, and\n"
        "    docs/walkthrough.md has the same steps as curl. Tokens: `.venv/bin/mpa token`.\n"
    )
    # The Procfile's `python` must be this environment's interpreter.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    honcho = shutil.which("honcho", path=bin_dir) or "honcho"
    os.execv(honcho, [honcho, "-f", str(layout.procfile), "-d", str(layout.root), "start"])  # noqa: S606


if __name__ == "__main__":
    app()
