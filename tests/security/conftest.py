"""The four services as real processes on the real Kafka and PostgreSQL, for the security
proofs of issue 12 (access matrix, API fuzzing, body limits). A private schema in each
service's database and a private topic prefix keep the run apart from `make run`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_cli.stack.topics import ensure_topics
from mpa_common.kafka import operator_options
from mpa_common.settings import SERVICE_PORTS
from tests.conftest import service_owner_database_url
from tests.integration.notification_support import smtp_server
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Platform:
    urls: dict[str, str]
    pids: dict[str, int]
    logs: Path
    receiver_url: str
    # Every e-mail the notification service sent (a local SMTP sink).
    mails: list[EmailMessage] = field(default_factory=list)

    def log(self, service: str) -> str:
        return (self.logs / f"{service}.log").read_text(errors="replace")


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


@pytest.fixture(scope="session")
def platform(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    schema = f"sec_{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    logs = tmp_path_factory.mktemp("security-logs")
    topics = asyncio.run(ensure_topics(bootstrap_servers, prefix))
    ports = {service: free_port() for service in SERVICE_PORTS}
    receiver_port = free_port()  # nobody listens: deliveries just retry
    smtp = smtp_server()
    smtp_port, mails = smtp.__enter__()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KAFKA_TOPIC_PREFIX": prefix,
        "REFERRAL_DEMO_DIRECTORY": "false",
        "NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
        "NOTIFICATION_SMTP_PORT": str(smtp_port),
        "NOTIFICATION_REFERRAL_API_BASE_URL": f"http://127.0.0.1:{ports['referral']}",
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
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
        for service in SERVICE_PORTS:
            processes[service] = subprocess.Popen(
                [sys.executable, "-m", f"mpa_{service}.main"],
                cwd=ROOT,
                env=env,
                stdout=(logs / f"{service}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
        deadline = time.monotonic() + 90
        for service, url in urls.items():
            while True:
                if processes[service].poll() is not None:
                    pytest.fail(f"{service} exited:\n{(logs / f'{service}.log').read_text()}")
                try:
                    if httpx.get(f"{url}/readyz", timeout=3).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{service} not ready:\n{(logs / f'{service}.log').read_text()}")
                time.sleep(0.3)
        yield Platform(
            urls,
            {s: p.pid for s, p in processes.items()},
            logs,
            f"http://127.0.0.1:{receiver_port}/hooks",
            mails,
        )
    finally:
        smtp.__exit__(None, None, None)
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
