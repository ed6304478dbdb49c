"""`mpa smtp-sink`: a local SMTP server that keeps every mail as an .eml file to read.

`make run` starts it (deploy/local/Procfile) on the port the notification service sends to
by default, so a new user can open what partners and referrers would receive.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import typer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

smtp_app = typer.Typer(help="Local helpers of the notification service.")


class MailDropHandler:
    """Writes each received message to `<folder>/<UTC time>-<id>.eml`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(data)
        typer.echo(f"mail for {', '.join(envelope.rcpt_tos)} -> {path}")
        return "250 Message accepted for delivery"


@smtp_app.command("smtp-sink")
def smtp_sink(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8025, help="Port (the notification service's default)"),
    folder: Path = typer.Option(Path(".local/mail"), help="Where .eml files are written"),
) -> None:
    """Receive mail over SMTP and keep each message as an .eml file (Ctrl-C stops)."""
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(MailDropHandler(folder), hostname=host, port=port)
    controller.start()
    typer.echo(f"SMTP sink on {host}:{port}, writing to {folder.resolve()}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
