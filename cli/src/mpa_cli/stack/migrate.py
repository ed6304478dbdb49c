"""Applies every service's Alembic history to its own database."""

from __future__ import annotations

import os
import sys

from mpa_cli.stack.console import run, step
from mpa_cli.stack.layout import Layout
from mpa_common.settings import SERVICE_PORTS


def migrate_all(layout: Layout) -> None:
    for service in SERVICE_PORTS:
        step(f"Migrating the {service} database (alembic upgrade head)")
        run(
            [
                sys.executable,
                "-m",
                "alembic",
                "-c",
                str(layout.root / "services" / service / "alembic.ini"),
                "upgrade",
                "head",
            ],
            what=f"migrations of {service}",
            cwd=layout.root,
            env=os.environ,
        )
