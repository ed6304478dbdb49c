"""Coverage tells the truth, on the real Kafka and PostgreSQL (issue 11).

A dead-lettered offset is not accounted: coverage answers `complete: false` and names the
missing event until it is in the log (re-delivered at a new offset, as `mpa dlq replay`
does); an undecodable record stays missing. A topic deleted and recreated hands out its
offsets again: the reused offsets open a new epoch, nothing crashes and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from mpa_audit.settings import AuditSettings
from mpa_cli.stack.topics import ensure_topics
from mpa_common.kafka import operator_options
from mpa_contracts.envelope import Envelope, new_envelope, to_kafka_record
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason
from tests.integration.audit_support import (
    all_events,
    audit_settings,
    create_audit_schema,
    delete_topics,
    drop_audit_schema,
    eventually,
    publish,
    running_audit_app,
)

pytestmark = pytest.mark.integration

CASE_TOPIC = "mpa.case.v1"


@dataclass
class PrivateLog:
    schema: str
    prefix: str
    topics: list[str]
    settings: AuditSettings


@pytest.fixture
async def private_log(bootstrap_servers: str, tmp_path: Path) -> AsyncIterator[PrivateLog]:
    schema = await create_audit_schema()
    prefix = f"{schema}."
    topics = await ensure_topics(bootstrap_servers, prefix)
    try:
        yield PrivateLog(schema, prefix, topics, audit_settings(schema, prefix, tmp_path / "k.pem"))
    finally:
        await delete_topics(bootstrap_servers, topics)
        await drop_audit_schema(schema)


def closed(case_id: uuid.UUID) -> Envelope:
    """An event keyed by ``case_id``: all of one case's events share a partition."""
    return new_envelope(
        CaseClosedV1(
            case_id=case_id,
            reason=CaseClosureReason.NEEDS_MET,
            actor_id="caseworker:coverage-test",
            actor_role=ActorRole.CASEWORKER,
        ),
        source="urn:mpa:service:intake",
    )


async def send_raw(
    bootstrap_servers: str, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    producer = AIOKafkaProducer(
        **operator_options(bootstrap_servers), enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def case_partitions(client: httpx.AsyncClient, topic: str) -> list[dict[str, Any]]:
    coverage = (await client.get("/v1/audit/coverage")).json()
    return [p for p in coverage["partitions"] if p["topic"] == topic and p["next_offset"]]


async def test_a_dead_lettered_offset_is_missing_until_its_event_is_in_the_log(
    private_log: PrivateLog, bootstrap_servers: str
) -> None:
    topic = private_log.prefix + CASE_TOPIC
    case_id = uuid.uuid4()
    first, failed = closed(case_id), closed(case_id)
    record = to_kafka_record(failed)
    async with running_audit_app(private_log.settings) as client:
        await publish(bootstrap_servers, private_log.prefix, [first])
        # The failed event's record, its payload broken: it cannot be logged and goes to
        # the dead-letter topic; its id is known from its ce_id header.
        await send_raw(bootstrap_servers, topic, record.key, b"{not json", list(record.headers))

        async def read(count: int) -> bool:
            partitions = await case_partitions(client, topic)
            return bool(partitions) and partitions[0]["next_offset"] == count

        await eventually(lambda: read(2), what="both records read")
        response = await client.get("/v1/audit/coverage")
        coverage = response.json()
        (partition,) = await case_partitions(client, topic)
        assert coverage["complete"] is False
        assert coverage["missing_event_ids"] == [str(failed.id)]
        assert partition["complete"] is False
        assert (partition["logged"], partition["dead_lettered"]) == (1, 1)
        assert partition["missing"] == [{"offset": 1, "event_id": str(failed.id)}]
        assert partition["gaps"] == []
        assert partition["lag"] == 0

        # Re-delivered at a new offset (what `mpa dlq replay` does): now it is accounted.
        await publish(bootstrap_servers, private_log.prefix, [failed])
        await eventually(lambda: read(3), what="the re-delivered record read")
        coverage = (await client.get("/v1/audit/coverage")).json()
        (partition,) = await case_partitions(client, topic)
        assert (partition["missing"], partition["complete"]) == ([], True)
        assert coverage["missing_event_ids"] == []
        assert coverage["complete"] is True
        assert {e["event"]["id"] for e in await all_events(client)} == {
            str(first.id),
            str(failed.id),
        }

        # A record with no usable id at all stays missing: it can never be logged.
        await send_raw(bootstrap_servers, topic, record.key, b"[]", [("ce_id", b"garbage")])
        await eventually(lambda: read(4), what="the undecodable record read")
        (partition,) = await case_partitions(client, topic)
        assert partition["missing"] == [{"offset": 3, "event_id": None}]
        assert (await client.get("/v1/audit/coverage")).json()["complete"] is False


async def _recreate(bootstrap_servers: str, topics: list[str], prefix: str) -> None:
    await delete_topics(bootstrap_servers, topics)
    for _ in range(100):  # deletion completes asynchronously
        try:
            await ensure_topics(bootstrap_servers, prefix)
            return
        except KafkaError:
            await asyncio.sleep(0.2)
    raise AssertionError("the topics could not be recreated")


async def test_offsets_reused_after_the_topic_is_recreated_open_a_new_epoch(
    private_log: PrivateLog, bootstrap_servers: str
) -> None:
    topic = private_log.prefix + CASE_TOPIC
    case_id = uuid.uuid4()
    before = [closed(case_id) for _ in range(6)]
    after = [closed(case_id) for _ in range(3)]
    async with running_audit_app(private_log.settings) as client:
        await publish(bootstrap_servers, private_log.prefix, before)

        async def logged(count: int) -> bool:
            return len(await all_events(client)) == count

        await eventually(lambda: logged(6), what="the first incarnation logged")
    # The topic is deleted and created again (as after an operator's mistake or a restore):
    # its offsets start at 0 again, and hold other events.
    await _recreate(bootstrap_servers, [topic, topic + ".dlq"], private_log.prefix)
    await publish(bootstrap_servers, private_log.prefix, after)
    async with running_audit_app(private_log.settings) as client:
        await eventually(lambda: logged(9), what="the second incarnation logged")
        events = await all_events(client)
        assert [e["event"]["id"] for e in events] == [str(e.id) for e in [*before, *after]]
        assert [e["origin"]["offset"] for e in events] == [0, 1, 2, 3, 4, 5, 0, 1, 2]
        partitions = await case_partitions(client, topic)
        assert [(p["epoch"], p["logged"], p["next_offset"], p["lag"]) for p in partitions] == [
            (0, 6, 6, None),
            (1, 3, 3, 0),
        ]
        assert all(p["complete"] for p in partitions)
        assert (await client.get("/v1/audit/coverage")).json()["complete"] is True
        integrity = await client.get("/v1/audit/health/integrity", params={"scope": "full"})
        assert integrity.status_code == 200, integrity.text
