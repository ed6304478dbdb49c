"""Creates the platform's topics from the contracts' registry (explicit partitions, retention),
and the ACLs that let each service use them (`mpa_cli.stack.access`)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from mpa_cli.stack.access import acls_managed, ensure_access, service_usernames
from mpa_cli.stack.console import info, step
from mpa_common.kafka import KafkaTarget, options_of
from mpa_common.messaging.outbox import topic_name
from mpa_contracts.topics import all_topics


async def ensure_topics(kafka: KafkaTarget, prefix: str = "") -> list[str]:
    """Creates missing topics, updates retention of existing ones, grants each service's
    principal its ACLs on them; returns the names. `kafka`: the admin's client options, or
    bootstrap servers (reached as the operator: `mpa_common.kafka.operator_options`)."""

    step("Ensuring the platform's topics (from mpa_contracts.topics) and their ACLs")
    options = options_of(kafka)
    admin = AIOKafkaAdminClient(**options, client_id="mpa-stack")
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        # Up to three copies where the cluster has the brokers for it; one on the local node.
        replication = min(3, len(cluster["brokers"]))
        existing = set(await admin.list_topics())
        wanted = [replace(t, name=topic_name(t.name, prefix)) for t in all_topics()]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=t.name,
                        num_partitions=t.partitions,
                        replication_factor=replication,
                        topic_configs={"retention.ms": str(t.retention_ms)},
                    )
                    for t in missing
                ]
            )
        for topic in wanted:
            if topic.name in existing:
                # Retention may have changed in the registry; partitions are never changed
                # here (adding partitions would move keys and break per-case order).
                await admin.alter_configs(
                    [
                        ConfigResource(
                            ConfigResourceType.TOPIC,
                            topic.name,
                            configs={"retention.ms": str(topic.retention_ms)},
                        )
                    ]
                )
        info(
            f"{len(wanted)} topics ({len(missing)} created, {len(wanted) - len(missing)} present): "
            + ", ".join(t.name for t in wanted if not t.name.endswith(".dlq"))
            + " and their .dlq dead-letter topics"
        )
    finally:
        await admin.close()
    if acls_managed():
        report = await asyncio.to_thread(
            ensure_access,
            options,
            service_usernames(),
            [prefix],
            existing | {t.name for t in wanted},
        )
        if report.managed:
            info(
                f"ACLs: {report.created} created, {report.present} present, "
                f"{report.removed} of deleted deployments removed"
            )
        else:
            info("ACLs: the cluster has no authorizer (none managed)")
    return [t.name for t in wanted]
