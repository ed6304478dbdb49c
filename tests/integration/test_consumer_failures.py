"""The shared consumer under failure, on the real broker and database (issue 11, 13).

Transient failures (the database stopped or hung, connection errors) are waited out and
never dead-lettered; a poison record among many is isolated and dead-lettered alone; a
rejected or forged event is dead-lettered at once; replays reach only the group they name;
a partition's records are handled in batches, in order.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from mpa_common.failures import EventRejected
from mpa_common.kafka import operator_options
from mpa_common.messaging.consumer import REPLAY_FOR_HEADER
from mpa_common.messaging.subscriptions import Delivery, RecordOrigin, SkipReason
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope, new_envelope, to_kafka_record
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason
from tests.integration.messaging_harness import (
    Playground,
    case_event,
    eventually,
    open_playground,
    read_topic,
)
from tests.integration.private_postgres import PrivatePostgres, private_postgres

pytestmark = pytest.mark.integration


@pytest.fixture
def own_postgres() -> AsyncIterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
async def outage_ground(
    bootstrap_servers: str, own_postgres: PrivatePostgres
) -> AsyncIterator[Playground]:
    async for ground in open_playground(bootstrap_servers, own_postgres.url("intake")):
        yield ground


async def _produce(
    playground: Playground, *envelopes: Envelope, headers: list | None = None
) -> None:  # type: ignore[type-arg]
    producer = AIOKafkaProducer(**operator_options(playground.bootstrap_servers))
    await producer.start()
    try:
        for envelope in envelopes:
            record = to_kafka_record(envelope)
            await producer.send_and_wait(
                playground.case_topic,
                record.value,
                key=record.key,
                headers=[*record.headers, *(headers or [])],
            )
    finally:
        await producer.stop()


def _events(cases: int, per_case: int) -> tuple[list[Envelope], dict[uuid.UUID, list[uuid.UUID]]]:
    ids = [uuid.uuid4() for _ in range(cases)]
    events = [case_event(c) for _ in range(per_case) for c in ids]
    order: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for event in events:
        order[event.key].append(event.id)
    return events, order


async def _in_order(playground: Playground, order: dict[uuid.UUID, list[uuid.UUID]]) -> None:
    seen: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for event_id, case_id in await playground.effects_of("reader"):
        seen[case_id].append(event_id)
    assert dict(seen) == dict(order)  # every event once, each case's events in order


async def _count(playground: Playground, expected: int) -> bool:
    return len(await playground.effects_of("reader")) >= expected


async def _no_dead_letters(playground: Playground) -> None:
    dead = await read_topic(
        playground.bootstrap_servers, playground.case_topic + ".dlq", 0, timeout=1, settle=1
    )
    assert dead == []


@pytest.mark.parametrize(
    ("fault", "single_lane"), [("stopped", False), ("paused", False), ("stopped", True)]
)
async def test_a_database_outage_is_waited_out_never_dead_lettered(
    outage_ground: Playground, own_postgres: PrivatePostgres, fault: str, single_lane: bool
) -> None:
    playground = outage_ground
    consumer = playground.consumer(playground.recording_handler("reader"), single_lane=single_lane)
    await consumer.start()
    before, order = _events(6, 3)
    await _produce(playground, *before)
    await eventually(lambda: _count(playground, len(before)), what="first events handled")

    paused: list[int] = []
    if fault == "stopped":
        own_postgres.stop()
    else:
        paused = own_postgres.pause()
    try:
        during, more = _events(6, 4)
        await _produce(playground, *during)
        await asyncio.sleep(6)  # the consumer meets the outage and keeps retrying
        assert consumer.dead_lettered == 0
        if fault == "stopped":
            assert consumer.monitor.is_down("database")
            assert consumer.transient_retries > 0
    finally:
        if fault == "stopped":
            own_postgres.start()
        else:
            own_postgres.resume(paused)
    await eventually(
        lambda: _count(playground, len(before) + len(during)), timeout=60, what="caught up"
    )
    for case_id, ids in more.items():
        order[case_id].extend(ids)
    await _in_order(playground, order)
    assert consumer.dead_lettered == 0
    assert not consumer.monitor.is_down("database")
    await _no_dead_letters(playground)


async def test_transient_handler_errors_are_retried_in_place_and_keep_order(
    playground: Playground,
) -> None:
    events, order = _events(1, 6)  # one case: one partition, one order
    flaky = events[2].id
    failures = {"left": 4}
    record = playground.recording_handler("reader")

    async def flaky_handler(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        if delivery.envelope.id == flaky and failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionResetError("connection reset by peer")
        await record(uow, data, delivery)

    consumer = playground.consumer(flaky_handler)
    await consumer.start()
    await _produce(playground, *events)
    await eventually(lambda: _count(playground, len(events)), what="all handled")
    await _in_order(playground, order)
    assert failures["left"] == 0
    assert consumer.transient_retries >= 4
    assert consumer.dead_lettered == 0
    await _no_dead_letters(playground)


async def test_a_poison_record_in_a_batch_is_isolated_and_the_rest_keep_their_order(
    playground: Playground,
) -> None:
    events, order = _events(1, 12)
    poison = events[5]
    record = playground.recording_handler("reader")

    async def handler(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        await record(uow, data, delivery)
        if delivery.envelope.id == poison.id:
            raise ValueError("a bug in the handler")

    await _produce(playground, *events)  # all there before the consumer: one batch
    consumer = playground.consumer(handler, unexpected_attempts=3)
    await consumer.start()
    await eventually(lambda: _count(playground, len(events) - 1), what="the others handled")
    order[poison.key].remove(poison.id)
    await _in_order(playground, order)
    [dead] = await read_topic(playground.bootstrap_servers, playground.case_topic + ".dlq", 1)
    headers = dict(dead.headers)
    assert headers["mpa_dlq_reason"] == b"handler_failed"
    assert headers["mpa_dlq_attempts"] == b"3"
    assert headers["ce_id"] == str(poison.id).encode()
    assert consumer.batches < len(events)  # handled in batches, not one transaction each


async def test_a_single_lane_handles_many_partitions_in_one_transaction_and_isolates_a_poison(
    playground: Playground,
) -> None:
    first, order = _events(24, 2)  # 24 cases: records on every one of the six partitions
    then, more = _events(24, 2)
    poison = then[30]
    record = playground.recording_handler("reader")
    partition_of: dict[uuid.UUID, int] = {}
    held = {"first": True}

    async def handler(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        if held.pop("first", False):
            # The first fetch may hold one partition's records: meanwhile the others' are
            # fetched and wait for the lane together.
            await asyncio.sleep(1)
        partition_of[delivery.envelope.id] = delivery.origin.partition
        await record(uow, data, delivery)
        if delivery.envelope.id == poison.id:
            raise ValueError("a bug in the handler")

    await _produce(playground, *first)
    consumer = playground.consumer(handler, single_lane=True, unexpected_attempts=2)
    await consumer.start()
    await eventually(lambda: _count(playground, len(first)), what="the first events handled")
    async with playground.sessions() as session:
        rows = await session.execute(
            text("SELECT xmin::text AS tx, event_id FROM effects WHERE consumer = 'reader'")
        )
        committed: dict[str, set[int]] = defaultdict(set)  # transaction -> its partitions
        for tx, event_id in rows:
            committed[tx].add(partition_of[event_id])
    assert max(len(partitions) for partitions in committed.values()) > 1

    await _produce(playground, *then)
    total = len(first) + len(then) - 1
    await eventually(lambda: _count(playground, total), what="the others handled")
    for case_id, ids in more.items():
        order[case_id].extend(ids)
    order[poison.key].remove(poison.id)
    await _in_order(playground, order)  # every other event once, each case's in order
    [dead] = await read_topic(playground.bootstrap_servers, playground.case_topic + ".dlq", 1)
    headers = dict(dead.headers)
    assert headers["ce_id"] == str(poison.id).encode()
    assert headers["mpa_dlq_reason"] == b"handler_failed"
    assert consumer.dead_lettered == 1


async def test_single_lane_consumers_keep_each_cases_order_across_a_rebalance(
    playground: Playground,
) -> None:
    group = f"lanes-{playground.schema}"
    record = playground.recording_handler("reader")
    called = asyncio.Event()

    async def slow(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        called.set()
        await asyncio.sleep(0.03)  # a batch of the 120 takes seconds: the rebalance meets it
        await record(uow, data, delivery)

    first = playground.consumer(slow, group, single_lane=True)
    second = playground.consumer(slow, group, single_lane=True)
    await first.start()
    events, order = _events(24, 10)
    await _produce(playground, *events[:120])
    await asyncio.wait_for(called.wait(), 30)
    await second.start()  # a rebalance while the first has records in hand
    await _produce(playground, *events[120:])

    async def both_assigned() -> bool:
        owned = [c._consumer.assignment() if c._consumer else set() for c in (first, second)]
        return all(owned) and len(owned[0] | owned[1]) == 6

    await eventually(both_assigned, what="six partitions shared by two consumers")
    await eventually(lambda: _count(playground, len(events)), timeout=60, what="all handled")
    await asyncio.sleep(1)  # an extra effect (a record handled twice) has time to show
    await _in_order(playground, order)  # exactly once, each case's events in order


async def test_a_rejected_event_is_dead_lettered_at_once_with_its_reason(
    playground: Playground,
) -> None:
    events, _ = _events(1, 3)
    attempts: list[uuid.UUID] = []
    record = playground.recording_handler("reader")

    async def handler(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        attempts.append(delivery.envelope.id)
        if delivery.envelope.id == events[1].id:
            raise EventRejected("unknown_case", "event for a case that was never registered")
        await record(uow, data, delivery)

    skipped: list[tuple[int, SkipReason]] = []

    async def note(origin: RecordOrigin, event_id: uuid.UUID | None, why: SkipReason) -> None:
        skipped.append((origin.offset, why))

    consumer = playground.consumer(handler, on_skipped=note)
    await _produce(playground, *events)
    await consumer.start()
    await eventually(lambda: _count(playground, 2), what="the other two handled")
    [dead] = await read_topic(playground.bootstrap_servers, playground.case_topic + ".dlq", 1)
    assert dict(dead.headers)["mpa_dlq_reason"] == b"unknown_case"
    assert dict(dead.headers)["mpa_dlq_attempts"] == b"1"
    assert attempts.count(events[1].id) <= 2  # the batch try, then alone: never retried
    assert skipped == [(1, SkipReason.DEAD_LETTERED)]


async def test_a_record_from_a_service_that_does_not_own_the_topic_is_dead_lettered(
    playground: Playground,
) -> None:
    forged = new_envelope(
        CaseClosedV1(
            case_id=uuid.uuid4(),
            reason=CaseClosureReason.DUPLICATE,
            actor_id="caseworker:forger",
            actor_role=ActorRole.CASEWORKER,
        ),
        source="urn:mpa:service:referral",  # case events come from intake only
    )
    genuine = case_event(forged.key)
    consumer = playground.consumer(playground.recording_handler("reader"))
    await consumer.start()
    await _produce(playground, forged, genuine)
    await eventually(lambda: _count(playground, 1), what="the genuine event handled")
    assert [e for e, _ in await playground.effects_of("reader")] == [genuine.id]
    [dead] = await read_topic(playground.bootstrap_servers, playground.case_topic + ".dlq", 1)
    assert dict(dead.headers)["mpa_dlq_reason"] == b"forbidden_source"


async def test_a_replay_is_handled_only_by_the_group_it_names(playground: Playground) -> None:
    group = f"replay-{playground.schema}"
    other = f"other-{playground.schema}"
    replayed: list[bool] = []
    record = playground.recording_handler("reader")

    async def handler(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        replayed.append(delivery.replayed)
        await record(uow, data, delivery)

    mine = playground.consumer(handler, group=group)
    theirs = playground.consumer(playground.recording_handler("other"), group=other)
    await mine.start()
    await theirs.start()
    event = case_event(uuid.uuid4())
    target = f"{playground.topic_prefix}{group}".encode()
    await _produce(playground, event, headers=[(REPLAY_FOR_HEADER, target)])
    await eventually(lambda: _count(playground, 1), what="the named group handled it")
    await asyncio.sleep(2)
    assert replayed == [True]
    assert await playground.effects_of("other") == []
