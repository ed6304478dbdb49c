"""Creates the platform's topics from the contracts' registry (explicit partitions, retention)."""

from __future__ import annotations

from dataclasses import replace

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from mpa_cli.stack.console import info, step
from mpa_common.messaging.outbox import topic_name
from mpa_contracts.topics import all_topics


async def ensure_topics(bootstrap_servers: str, prefix: str = "") -> list[str]:
    """Creates missing topics, updates retention of existing ones; returns the names."""

    step("Ensuring the platform's topics (from mpa_contracts.topics)")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="mpa-stack")
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
        return [t.name for t in wanted]
    finally:
        await admin.close()
