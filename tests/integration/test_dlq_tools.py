"""`mpa dlq list` / `mpa dlq replay` on the real broker (issue 11): a dead letter is listed
with its consumer and reason, replayed once to the group that failed it (and to no other),
handled there as a replay, and shown as replayed; a second replay sends nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from mpa_cli.dlq import Selection, read_dead_letters, replay, select
from mpa_cli.main import app
from mpa_common.failures import EventRejected
from mpa_common.kafka import operator_options
from mpa_common.messaging.subscriptions import Delivery
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import to_kafka_record
from mpa_contracts.events.case import CaseClosedV1
from tests.integration.messaging_harness import (
    Playground,
    case_event,
    eventually,
)

pytestmark = pytest.mark.integration


async def test_a_dead_letter_is_listed_replayed_once_to_its_consumer_and_marked(
    playground: Playground, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = {"now": True}
    doomed, fine = case_event(uuid.uuid4()), case_event(uuid.uuid4())
    replays: list[bool] = []
    record_a = playground.recording_handler("a")

    async def picky(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        if delivery.envelope.id == doomed.id and broken["now"]:
            raise EventRejected("not_yet", "the handler cannot take this event yet")
        replays.append(delivery.replayed)
        await record_a(uow, data, delivery)

    group_a, group_b = f"a-{playground.schema}", f"b-{playground.schema}"
    consumer_a = playground.consumer(picky, group=group_a)
    consumer_b = playground.consumer(playground.recording_handler("b"), group=group_b)
    await consumer_a.start()
    await consumer_b.start()
    producer = AIOKafkaProducer(**operator_options(playground.bootstrap_servers))
    await producer.start()
    try:
        for envelope in (doomed, fine):
            record = to_kafka_record(envelope)
            await producer.send_and_wait(
                playground.case_topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()

    async def settled() -> bool:
        return len(await playground.effects_of("b")) == 2 and consumer_a.dead_lettered == 1

    await eventually(settled, what="b handled both, a dead-lettered one")
    options = operator_options(playground.bootstrap_servers)
    prefix = playground.topic_prefix
    [letter] = await read_dead_letters(options, prefix)
    assert (letter.consumer, letter.reason, letter.event_id) == (
        f"{prefix}{group_a}",
        "not_yet",
        str(doomed.id),
    )
    assert letter.source_topic == playground.case_topic
    assert letter.replayed_at is None

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", playground.bootstrap_servers)
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", prefix)
    runner = CliRunner()
    # The CLI runs its own event loop: give it a thread of its own.
    listed = await asyncio.to_thread(runner.invoke, app, ["dlq", "list", "--consumer", group_a])
    assert listed.exit_code == 0, listed.output
    assert "not_yet" in listed.output
    assert str(doomed.id) in listed.output
    assert "1 dead letter(s)" in listed.output
    refused = await asyncio.to_thread(runner.invoke, app, ["dlq", "replay"])
    assert refused.exit_code != 0  # nothing chosen: refused

    broken["now"] = False  # the cause is fixed
    chosen = select(await read_dead_letters(options, prefix), Selection(consumer=group_a), prefix)
    result = await replay(options, chosen)
    assert [d.ref for d in result.replayed] == [letter.ref]

    async def replayed_to_a() -> bool:
        return str(doomed.id) in {str(e) for e, _ in await playground.effects_of("a")}

    await eventually(replayed_to_a, what="the replay handled by the group that failed it")
    assert replays[-1] is True
    assert sorted(e for e, _ in await playground.effects_of("b")) == sorted([doomed.id, fine.id])

    [marked] = await read_dead_letters(options, prefix)
    assert marked.replayed_at is not None
    again = await asyncio.to_thread(runner.invoke, app, ["dlq", "replay", "--consumer", group_a])
    assert again.exit_code == 0, again.output
    assert "0 dead letter(s) to replay" in again.output
