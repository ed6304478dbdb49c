"""`mpa stack up/down/status`: the whole local set-up as one idempotent sequence.

Kafka is started locally unless KAFKA_BOOTSTRAP_SERVERS names another cluster; PostgreSQL is
started locally unless every service's <SERVICE>_DATABASE_URL is set (the databases then
exist already, and only their migrations are applied).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from mpa_cli.stack import postgres
from mpa_cli.stack.access import ensure_scram_users
from mpa_cli.stack.console import StackError, info, step
from mpa_cli.stack.kafka import LocalKafka
from mpa_cli.stack.layout import Layout
from mpa_cli.stack.migrate import migrate_all
from mpa_cli.stack.topics import ensure_topics
from mpa_common.auth import AuthSettings, ensure_dev_key
from mpa_common.kafka import KafkaTarget, kafka_metadata_ok, operator_options
from mpa_common.settings import (
    LOCAL_KAFKA_BOOTSTRAP_SERVERS,
    LOCAL_POSTGRES_HOST,
    LOCAL_POSTGRES_PORT,
    SERVICE_PORTS,
)


@dataclass(frozen=True)
class StackPlan:
    external_kafka: str | None
    external_postgres: bool

    @classmethod
    def from_environment(cls) -> StackPlan:
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        external_kafka = kafka if kafka and kafka != LOCAL_KAFKA_BOOTSTRAP_SERVERS else None
        urls = {s: os.environ.get(f"{s.upper()}_DATABASE_URL", "") for s in SERVICE_PORTS}
        given = [s for s, url in urls.items() if url]
        if given and len(given) != len(urls):
            missing = ", ".join(f"{s.upper()}_DATABASE_URL" for s in urls if not urls[s])
            raise StackError(
                f"Some service database URLs are set and others not; also set {missing} "
                "(or unset them all to use the local PostgreSQL)."
            )
        return cls(external_kafka=external_kafka, external_postgres=bool(given))

    @property
    def bootstrap_servers(self) -> str:
        return self.external_kafka or LOCAL_KAFKA_BOOTSTRAP_SERVERS


def up(layout: Layout, *, migrate: bool = True, topics: bool = True) -> StackPlan:
    plan = StackPlan.from_environment()
    layout.local.mkdir(parents=True, exist_ok=True)
    ensure_token_key()
    if plan.external_postgres:
        info("PostgreSQL: using the databases named by <SERVICE>_DATABASE_URL (none started)")
    else:
        bin_dir = postgres.ensure_installed()
        cluster = postgres.LocalPostgres(layout, bin_dir)
        cluster.init()
        cluster.start()
        cluster.provision()
    kafka: KafkaTarget
    if plan.external_kafka:
        step(f"Kafka: using {plan.external_kafka} (none started); checking it answers")
        # As the operator (MPA_ADMIN_KAFKA_*): that cluster's own credentials.
        kafka = operator_options(plan.external_kafka)
        asyncio.run(kafka_metadata_ok(kafka, timeout=10))
    else:
        local = LocalKafka(layout)
        local.start()
        kafka = local.admin_options
        if added := ensure_scram_users(kafka, local.service_users()):
            info(f"Kafka: {added} SCRAM user(s) added through the admin API")
    if migrate:
        migrate_all(layout)
    if topics:
        asyncio.run(ensure_topics(kafka, os.environ.get("KAFKA_TOPIC_PREFIX", "")))
    return plan


def ensure_token_key() -> None:
    """The development token signing key `mpa token` and the services share (created once,
    under the platform's home); an issuer's JWKS replaces it outside development."""
    settings = AuthSettings()
    if settings.auth_jwks_url or os.environ.get("MPA_ENV") == "production":
        return
    path = settings.dev_key_path
    if not path.exists():
        step(f"Creating the development token signing key ({path})")
    ensure_dev_key(path)


def down(layout: Layout) -> None:
    LocalKafka(layout).stop()
    bin_dir = postgres.find_server_bin()
    if bin_dir is not None:
        postgres.LocalPostgres(layout, bin_dir).stop()


def status(layout: Layout) -> dict[str, str]:
    kafka = LocalKafka(layout)
    pid = kafka.pid()
    bin_dir = postgres.find_server_bin()
    pg_running = bin_dir is not None and postgres.LocalPostgres(layout, bin_dir).running()
    return {
        "kafka": f"running (pid {pid}) on {kafka.bootstrap_servers}" if pid else "stopped",
        "postgres": (
            f"running on {LOCAL_POSTGRES_HOST}:{LOCAL_POSTGRES_PORT}" if pg_running else "stopped"
        ),
    }
