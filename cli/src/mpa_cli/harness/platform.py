"""One deployment of the four services on a private stack, each a separate OS process.

A deployment has a database schema and a topic prefix of its own (`<SERVICE>_DATABASE_SCHEMA`,
`KAFKA_TOPIC_PREFIX`), so several scenarios can run one after another on one stack and each
one's checks see only its own rows and records.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from mpa_cli.harness.ports import free_ports
from mpa_cli.harness.processes import ServiceProcess
from mpa_cli.harness.stack import PrivateStack
from mpa_cli.stack.topics import ensure_topics
from mpa_common.messaging.outbox import topic_name
from mpa_common.settings import SERVICE_PORTS
from mpa_contracts.topics import DEAD_LETTER_TOPICS, MAIN_TOPICS

SERVICES: tuple[str, ...] = tuple(SERVICE_PORTS)
# Variables of the developer's shell that would point a service elsewhere.
_INHERITED_OUT = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PREFIX", "MPA_LOCAL_DIR")


class MigrationFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class PlatformSettings:
    """How the services are tuned for a harness run: short polls, short SLAs, local webhooks.

    `sla_low_seconds`: the acceptance SLA of low-urgency referrals, short so that SLA timers
    fire during a scenario (with `max_reroutes` 0 a breach ends in `unroutable`, a decided
    state with a recorded reason). Other urgencies keep the platform's defaults (hours).
    """

    sla_low_seconds: float = 8.0
    max_reroutes: int = 0
    timer_poll_seconds: float = 0.2
    dispatch_poll_seconds: float = 0.2
    webhook_retry_schedule_seconds: tuple[float, ...] = (0, 1, 2, 4, 8, 15, 30, 60)
    checkpoint_interval_seconds: float = 1.0
    log_level: str = "INFO"
    extra: Mapping[str, str] = field(default_factory=dict)


class Platform:
    def __init__(
        self,
        stack: PrivateStack,
        logs: Path,
        *,
        name: str | None = None,
        settings: PlatformSettings | None = None,
    ) -> None:
        self.stack = stack
        self.logs = logs
        self.schema = name or f"h_{uuid.uuid4().hex[:10]}"
        self.prefix = f"{self.schema}."
        self.settings = settings or PlatformSettings()
        ports = free_ports(len(SERVICES) + 1)
        self.ports = dict(zip(SERVICES, ports, strict=False))
        self.smtp_port = ports[-1]  # nobody listens: no contact is registered, none is sent
        self.services: dict[str, ServiceProcess] = {
            service: ServiceProcess(
                name=service,
                port=self.ports[service],
                env=self.environment(service),
                log_path=logs / f"{service}.log",
                cwd=stack.root,
            )
            for service in SERVICES
        }

    # ---- names -----------------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        return {service: process.url for service, process in self.services.items()}

    def topic(self, name: str) -> str:
        return topic_name(name, self.prefix)

    @property
    def main_topics(self) -> list[str]:
        return [self.topic(t.name) for t in MAIN_TOPICS]

    @property
    def dead_letter_topics(self) -> list[str]:
        return [self.topic(t.name) for t in DEAD_LETTER_TOPICS]

    def environment(self, service: str) -> dict[str, str]:
        """The full environment of one service's process."""
        stack = self.stack
        settings = self.settings
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_OUT}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": settings.log_level,
                "MPA_LOCAL_POSTGRES_PORT": str(stack.postgres.port),
                "MPA_LOCAL_KAFKA_PORT": str(stack.kafka.port),
                "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
                "KAFKA_TOPIC_PREFIX": self.prefix,
                # Deliveries to the harness's receiver on loopback.
                "NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
                "NOTIFICATION_SMTP_PORT": str(self.smtp_port),
                "NOTIFICATION_REFERRAL_API_BASE_URL": f"http://127.0.0.1:{self.ports['referral']}",
                "NOTIFICATION_DISPATCH_POLL_SECONDS": str(settings.dispatch_poll_seconds),
                "NOTIFICATION_RETRY_SCHEDULE_SECONDS": json.dumps(
                    list(settings.webhook_retry_schedule_seconds)
                ),
                "REFERRAL_DEMO_DIRECTORY": "false",
                "REFERRAL_SLA_LOW_SECONDS": str(settings.sla_low_seconds),
                "REFERRAL_MAX_REROUTES": str(settings.max_reroutes),
                "REFERRAL_TIMER_POLL_SECONDS": str(settings.timer_poll_seconds),
                "AUDIT_CHECKPOINT_INTERVAL_SECONDS": str(settings.checkpoint_interval_seconds),
            }
        )
        for name in SERVICES:
            prefix = name.upper()
            env[f"{prefix}_PORT"] = str(self.ports[name])
            env[f"{prefix}_DATABASE_URL"] = stack.database_url(name)
            env[f"{prefix}_MIGRATIONS_DATABASE_URL"] = stack.owner_database_url(name)
            env[f"{prefix}_DATABASE_SCHEMA"] = self.schema
        # Its own Kafka principal only: no process holds another service's password.
        env = {k: v for k, v in env.items() if "_KAFKA_SASL_" not in k}
        env.update(stack.kafka_environment(service))
        env.update(settings.extra)
        return env

    # ---- set-up ----------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Every service's migrations into the deployment's schema (in parallel), its topics."""
        await asyncio.gather(*(self._migrate(service) for service in SERVICES))
        await ensure_topics(self.stack.kafka_options, self.prefix)

    async def _migrate(self, service: str) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(self.stack.root / "services" / service / "alembic.ini"),
            "upgrade",
            "head",
            cwd=self.stack.root,
            env=self.environment(service),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise MigrationFailed(f"migrations of {service}:\n{output.decode()[-3000:]}")

    async def start(self, services: Sequence[str] = SERVICES, timeout: float = 120.0) -> None:
        for service in services:
            self.services[service].start()
        await asyncio.gather(*(self.services[s].wait_ready(timeout) for s in services))

    async def restart(self, service: str, timeout: float = 120.0) -> float:
        """Starts a (killed) service again; returns the seconds until it was ready."""
        process = self.services[service]
        process.start()
        return await process.wait_ready(timeout)

    def stop(self) -> None:
        for process in self.services.values():
            process.terminate()

    # ---- the harness's own view of the databases -------------------------------------------

    async def connect(self, service: str) -> asyncpg.Connection:
        """A superuser connection to the service's database, in the deployment's schema."""
        return await asyncpg.connect(
            self.stack.superuser_dsn(f"mpa_{service}"),
            server_settings={"search_path": self.schema},
            timeout=10,
        )

    async def query(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = await self.connect(service)
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()
