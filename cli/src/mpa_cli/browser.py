"""`mpa browser`: Debian's Chromium for the console's browser tests, installed when missing.

Playwright drives the system's Chromium (`playwright install` cannot download its own
browser builds on these machines), so `make test` makes sure one is there, the way
`mpa stack up` installs PostgreSQL.
"""

from __future__ import annotations

import os
import shutil

import typer

from mpa_cli.stack.console import StackError, info, run, step

browser_app = typer.Typer(help="The Chromium the console's browser tests drive.")


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def ensure_chromium() -> str:
    if (found := find_chromium()) is not None:
        return found
    step("Installing Chromium from Debian's packages (apt-get install chromium)")
    if os.geteuid() != 0:
        raise StackError(
            "Chromium is not installed and this user cannot install it: run "
            "`sudo apt-get update && sudo apt-get install -y chromium`, then try again."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], what="apt-get update", env=env, line_filter=_progress)
    run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        what="apt-get install chromium",
        env=env,
        line_filter=_progress,
    )
    if (found := find_chromium()) is None:
        raise StackError("apt-get installed chromium but no chromium command is on PATH")
    return found


def _progress(line: str) -> str | None:
    return line if line.startswith(("Setting up chromium", "Unpacking chromium")) else None


@browser_app.callback(invoke_without_command=True)
def browser() -> None:
    """Make sure Chromium is installed (for the browser tests)."""
    try:
        info(f"Chromium for the browser tests: {ensure_chromium()}")
    except StackError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
