"""The platform as five real processes (the four services and the console) on the real Kafka
and PostgreSQL, and Debian's Chromium driven by Playwright, for the console's browser tests.

Isolation as in test_platform_story: a private schema in each service's database and a
private topic prefix, so a `make run` on the same machine neither sees nor disturbs this run.
Screenshots of each step go to `.local/screenshots/console/` (ignored by git).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_cli.stack.topics import ensure_topics
from mpa_common.kafka import operator_options
from mpa_common.settings import SERVICE_PORTS
from tests.conftest import service_owner_database_url
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".local" / "screenshots" / "console"
# As root Chromium needs --no-sandbox; the rest stop its background networking, which this
# machine's closed network refuses (polyglot machine notes, "Known to work").
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class RunningConsole:
    url: str
    service_urls: dict[str, str]
    logs: Path
    webhook_port: int

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))


async def _drop_schema(service: str, schema: str) -> None:
    engine = create_async_engine(service_owner_database_url(service))
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


async def _delete_topics(bootstrap_servers: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


def _wait_ready(
    urls: dict[str, str], processes: dict[str, subprocess.Popen[bytes]], logs: Path
) -> None:
    deadline = time.monotonic() + 120
    for name, url in urls.items():
        while True:
            if processes[name].poll() is not None:
                pytest.fail(f"{name} exited:\n{(logs / f'{name}.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=3).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not ready:\n{(logs / f'{name}.log').read_text()[-3000:]}")
            time.sleep(0.3)


def start_console_platform(bootstrap_servers: str, logs: Path) -> Iterator[RunningConsole]:
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    topics = asyncio.run(ensure_topics(bootstrap_servers, prefix))
    ports = {service: free_port() for service in SERVICE_PORTS}
    console_port = free_port()
    webhook_port = free_port()
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KAFKA_TOPIC_PREFIX": prefix,
        "NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
        "NOTIFICATION_SMTP_PORT": str(free_port()),  # nobody listens: e-mail just retries
        "NOTIFICATION_REFERRAL_API_BASE_URL": urls["referral"],
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": "1",
        "CONSOLE_PORT": str(console_port),
        "CONSOLE_SESSION_KEY_FILE": str(logs / "session-key"),
        **{f"CONSOLE_{service.upper()}_URL": url for service, url in urls.items()},
    }
    for service, port in ports.items():
        env[f"{service.upper()}_PORT"] = str(port)
        env[f"{service.upper()}_DATABASE_SCHEMA"] = schema
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in SERVICE_PORTS:
            migrated = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "alembic",
                    "-c",
                    f"services/{service}/alembic.ini",
                    "upgrade",
                    "head",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert migrated.returncode == 0, f"{service}: {migrated.stderr[-2000:]}"
        for name in (*SERVICE_PORTS, "console"):
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"mpa_{name}.main"],
                cwd=ROOT,
                env=env,
                stdout=(logs / f"{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        console_url = f"http://127.0.0.1:{console_port}"
        _wait_ready({**urls, "console": console_url}, processes, logs)
        yield RunningConsole(console_url, urls, logs, webhook_port)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for service in SERVICE_PORTS:
            asyncio.run(_drop_schema(service, schema))
        asyncio.run(_delete_topics(bootstrap_servers, topics))


def chromium_path() -> str:
    found = shutil.which("chromium")
    assert found, "Chromium is not installed: `make test` installs it (mpa browser)"
    return found


@dataclass
class Steps:
    """Numbered screenshots of one test's steps, and every URL the browser asked for."""

    folder: Path
    count: int = 0
    urls: list[str] = field(default_factory=list)

    def shot(self, page: Any, name: str) -> None:
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
