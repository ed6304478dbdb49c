"""Reliable messaging on the real broker and database (issue: contracts and messaging).

Outbox + relay + idempotent consumer: exactly-once effects under normal operation, a relay
killed between publish and mark-sent, a handler killed mid-transaction, poison records,
per-case order over 6 partitions and 2 consumers, one relay leader, trace continuity.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

from mpa_common.kafka import operator_options
from mpa_common.messaging.consumer import EventConsumer
from mpa_common.messaging.relay import _MARK_AND_READ, RELAY_SERVER_SETTINGS, asyncpg_dsn
from mpa_common.messaging.subscriptions import Delivery, RecordOrigin, SkipReason
from mpa_common.telemetry import configure_tracing
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import to_kafka_record
from mpa_contracts.events.case import CaseClosedV1
from tests.integration.messaging_harness import (
    Playground,
    case_event,
    eventually,
    read_topic,
)

pytestmark = pytest.mark.integration


async def test_events_written_with_a_state_change_are_published_exactly_once(
    playground: Playground,
) -> None:
    cases = [uuid.uuid4() for _ in range(3)]
    events = [case_event(c) for c in cases for _ in range(4)]
    await playground.stage(*events)
    # A unit of work left without commit writes neither state nor events.
    async with playground.uow() as uow:
        uow.emit_envelope(case_event(uuid.uuid4()))
    relay = playground.relay()
    await relay.start()
    await eventually(lambda: _zero(playground.unpublished()), what="outbox drained")

    records = await read_topic(playground.bootstrap_servers, playground.case_topic, len(events))
    ids = [dict(r.headers)["ce_id"].decode() for r in records]
    assert sorted(ids) == sorted(str(e.id) for e in events)  # each once, nothing else
    assert {r.key for r in records} == {str(c).encode() for c in cases}
    assert relay.published_total == len(events)


class _HeldAcknowledgements:
    """A real producer whose acknowledgements reach the relay only once released: the
    records are on the topic, the relay does not know it yet."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.release = asyncio.Event()
        self._producer = AIOKafkaProducer(
            **operator_options(bootstrap_servers), enable_idempotence=True, acks="all"
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, **record: object) -> asyncio.Future[object]:
        acknowledged = await self._producer.send(topic, **record)  # type: ignore[arg-type]

        async def held() -> object:
            await self.release.wait()
            return await acknowledged

        return asyncio.ensure_future(held())


async def test_the_relay_sends_what_commits_while_a_batch_awaits_its_acknowledgements(
    playground: Playground,
) -> None:
    first, second = case_event(uuid.uuid4()), case_event(uuid.uuid4())
    producer = _HeldAcknowledgements(playground.bootstrap_servers)
    relay = playground.relay(producer_factory=lambda: producer)
    await playground.stage(first)
    await relay.start()
    await read_topic(playground.bootstrap_servers, playground.case_topic, 1, settle=0)
    await playground.stage(second)  # committed while the first batch is unacknowledged
    records = await read_topic(playground.bootstrap_servers, playground.case_topic, 2, settle=0)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(
        [str(first.id), str(second.id)]
    )
    assert await playground.unpublished() == 2  # neither is marked sent before its ack
    producer.release.set()
    await eventually(lambda: _zero(playground.unpublished()), what="both marked sent")
    assert relay.published_total == 2


async def test_a_gathering_consumer_answers_the_first_record_after_a_pause_at_once(
    playground: Playground,
) -> None:
    """Idle, a gathering consumer waits like any other: a lone record is handled well
    within its gather time (5 s here), not after it."""
    relay = playground.relay()
    await relay.start()
    consumer = playground.consumer(playground.recording_handler("reader"), gather_ms=5000)
    await consumer.start()

    await _six_partitions_assigned(consumer)
    await asyncio.sleep(1.5)  # idle: no record for longer than a getmany's wait
    staged_at = asyncio.get_running_loop().time()
    await playground.stage(case_event(uuid.uuid4()))

    async def handled() -> bool:
        return len(await playground.effects_of("reader")) == 1

    await eventually(handled, timeout=30, what="the record handled")
    assert asyncio.get_running_loop().time() - staged_at < 3.0


async def test_the_relay_marks_acknowledged_rows_with_its_next_read(
    playground: Playground,
) -> None:
    """Commits 50 ms apart, each acknowledged before the next: each commit's read marks
    the one before it (one statement a commit), instead of a read and then a mark."""
    relay = playground.relay()
    await relay.start()
    await eventually(lambda: _true(relay.is_leader), what="the relay leads")
    reads_before = relay.reads
    for _ in range(20):
        await playground.stage(case_event(uuid.uuid4()))
        await asyncio.sleep(0.05)

    async def all_marked() -> bool:
        return await playground.unpublished() == 0

    await eventually(all_marked, timeout=30, what="20 rows published and marked")
    assert relay.published_total == 20
    assert relay.reads - reads_before <= 28  # a read and a mark each: 40


async def _plans_of_a_young_outbox(playground: Playground, settings: dict[str, str]) -> str:
    """The relay's mark-and-read as PostgreSQL plans it for a connection with `settings`:
    prepared and first run on the empty outbox (the plan it then keeps), shown once the
    outbox holds 3,000 sent rows and never analysed (autovacuum has not come by yet)."""
    connection = await asyncpg.connect(
        asyncpg_dsn(playground.dsn),
        server_settings={
            **settings,
            "search_path": playground.schema,
            # What PostgreSQL settles on after five runs of a prepared statement, at once.
            "plan_cache_mode": "force_generic_plan",
        },
    )
    try:
        await connection.execute(
            f"PREPARE mark_and_read(bigint[], bigint[], int) AS {_MARK_AND_READ}"
        )
        explain = "EXPLAIN EXECUTE mark_and_read('{1, 2}', '{3}', 500)"
        await connection.execute(explain)
        await connection.execute(
            "INSERT INTO outbox (event_id, event_type, topic, kafka_key, envelope, published_at) "
            "SELECT gen_random_uuid(), 'org.mpa.case.registered', 'mpa.case.v1', '\\x00', "
            "jsonb_build_object('data', repeat('x', 800)), now() "
            "FROM generate_series(1, 3000)"
        )
        return "\n".join(row[0] for row in await connection.fetch(explain))
    finally:
        await connection.close()


async def test_the_relay_finds_rows_by_index_however_young_the_outbox_was_at_its_start(
    playground: Playground,
) -> None:
    """A plan made on an empty outbox scans it whole; the relay's connections never do."""
    assert "Seq Scan" in await _plans_of_a_young_outbox(playground, {})  # what would be
    await playground.engine.dispose()
    async with playground.engine.begin() as connection:
        await connection.execute(text("TRUNCATE outbox"))
    plan = await _plans_of_a_young_outbox(playground, RELAY_SERVER_SETTINGS)
    assert "Seq Scan" not in plan, plan
    assert "outbox_pkey" in plan, plan
    assert "ix_outbox_unpublished" in plan, plan


async def _true(value: bool) -> bool:
    return value


async def test_relay_killed_between_publish_and_mark_sent_duplicates_and_consumer_skips(
    playground: Playground,
) -> None:
    events = [case_event(uuid.uuid4()) for _ in range(5)]
    await playground.stage(*events)

    published = asyncio.Event()

    async def die_before_marking(positions: list[int]) -> None:
        published.set()
        await asyncio.Event().wait()  # hang here until killed

    first = playground.relay()
    first.after_publish = die_before_marking
    await first.start()
    await asyncio.wait_for(published.wait(), 20)
    assert first._task is not None
    first._task.cancel()  # the kill: the batch is in Kafka but never marked sent
    await asyncio.gather(first._task, return_exceptions=True)
    first._task = None
    assert await playground.unpublished() == len(events)

    second = playground.relay()
    await second.start()
    await eventually(lambda: _zero(playground.unpublished()), what="second relay drained")
    records = await read_topic(playground.bootstrap_servers, playground.case_topic, 2 * len(events))
    assert len(records) == 2 * len(events)  # every event twice on the topic

    consumer = playground.consumer(playground.recording_handler("reader"))
    await consumer.start()
    await eventually(
        lambda: _at_least(consumer_progress(consumer), 2 * len(events)), what="all read"
    )
    effects = await playground.effects_of("reader")
    assert sorted(e for e, _ in effects) == sorted(e.id for e in events)  # once each
    assert consumer.skipped_duplicates == len(events)


async def test_handler_killed_mid_transaction_leaves_nothing_and_runs_after_restart(
    playground: Playground,
) -> None:
    event = case_event(uuid.uuid4())
    await playground.stage(event)
    relay = playground.relay()
    await relay.start()

    inside = asyncio.Event()

    async def write_then_hang(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        await playground.recording_handler("reader")(uow, data, delivery)
        inside.set()
        await asyncio.Event().wait()

    group = f"crash-{playground.schema}"
    doomed = playground.consumer(write_then_hang, group=group)
    await doomed.start()
    await asyncio.wait_for(inside.wait(), 30)
    # The crash: the handler never returns; stopping gives up on it (cancels it), so
    # neither the transaction nor the offset is committed.
    await doomed.stop(timeout=0.5)
    assert await playground.effects_of("reader") == []  # no partial state

    restarted = playground.consumer(playground.recording_handler("reader"), group=group)
    await restarted.start()
    await eventually(lambda: _at_least(consumer_progress(restarted), 1), what="reprocessed")
    assert [e for e, _ in await playground.effects_of("reader")] == [event.id]


async def test_poison_records_are_dead_lettered_with_reasons_and_later_records_processed(
    playground: Playground,
) -> None:
    case_id = uuid.uuid4()
    good_before, doomed, good_after = (case_event(case_id) for _ in range(3))
    raw = to_kafka_record(good_before)
    producer = AIOKafkaProducer(**operator_options(playground.bootstrap_servers))
    await producer.start()
    key = str(case_id).encode()  # one key: one partition, so "moves on" is visible
    try:
        await _send(producer, playground.case_topic, to_kafka_record(good_before), key)
        await producer.send_and_wait(
            playground.case_topic, b"{not json", key=key, headers=raw.headers
        )
        unknown = [
            (n, b"org.mpa.case.teleported.v1" if n == "ce_type" else v) for n, v in raw.headers
        ]
        await producer.send_and_wait(playground.case_topic, raw.value, key=key, headers=unknown)
        await _send(producer, playground.case_topic, to_kafka_record(doomed), key)
        await _send(producer, playground.case_topic, to_kafka_record(good_after), key)
    finally:
        await producer.stop()

    record_handler = playground.recording_handler("reader")

    async def fail_on_doomed(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        if delivery.envelope.id == doomed.id:
            raise RuntimeError("downstream refused the event")
        await record_handler(uow, data, delivery)

    skipped: list[tuple[int, uuid.UUID | None, SkipReason]] = []

    async def note_skip(origin: RecordOrigin, event_id: uuid.UUID | None, why: SkipReason) -> None:
        skipped.append((origin.offset, event_id, why))

    consumer = playground.consumer(fail_on_doomed, unexpected_attempts=3, on_skipped=note_skip)
    await consumer.start()
    await eventually(lambda: _at_least(consumer_progress(consumer), 5), what="all five handled")

    handled = [e for e, _ in await playground.effects_of("reader")]
    assert handled == [good_before.id, good_after.id]
    dead = await read_topic(playground.bootstrap_servers, playground.case_topic + ".dlq", 3)
    reasons = [dict(r.headers)["mpa_dlq_reason"].decode() for r in dead]
    assert reasons == ["bad_json", "unknown_type", "handler_failed"]
    last = dict(dead[2].headers)
    assert last["mpa_dlq_source_topic"].decode() == playground.case_topic
    assert int(last["mpa_dlq_source_offset"]) == 3
    assert last["mpa_dlq_attempts"] == b"3"
    assert b"downstream refused the event" in last["mpa_dlq_error"]
    assert last["ce_id"] == str(doomed.id).encode()  # the original headers travel along
    assert dead[2].value == to_kafka_record(doomed).value
    assert dead[0].value == b"{not json"
    dead_lettered = SkipReason.DEAD_LETTERED
    assert skipped == [  # every offset without effects is accounted for
        (1, good_before.id, dead_lettered),  # bad JSON, but its ce_id header was readable
        (2, good_before.id, dead_lettered),  # unknown type, same headers
        (3, doomed.id, dead_lettered),
    ]


async def test_per_case_order_holds_across_six_partitions_and_two_consumers(
    playground: Playground,
) -> None:
    cases = [uuid.uuid4() for _ in range(24)]
    staged: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)

    async def writer(worker: int) -> None:
        for round_ in range(10):
            batch = [case_event(c) for c in cases[worker::4]]
            for envelope in batch:
                staged[envelope.key].append(envelope.id)
            await playground.stage(*batch)
            if round_ % 3 == 0:
                await asyncio.sleep(0)

    relay = playground.relay()
    await relay.start()
    group = f"order-{playground.schema}"
    first = playground.consumer(playground.recording_handler("reader"), group=group)
    second = playground.consumer(playground.recording_handler("reader"), group=group)
    await first.start()
    await second.start()

    async def both_assigned() -> bool:
        owned = [c._consumer.assignment() if c._consumer else set() for c in (first, second)]
        return all(owned) and len(owned[0] | owned[1]) == 6

    await eventually(both_assigned, what="six partitions shared by two consumers")
    await asyncio.gather(*(writer(w) for w in range(4)))
    total = sum(len(v) for v in staged.values())
    assert total == 240

    async def all_handled() -> bool:
        return len(await playground.effects_of("reader")) >= total

    await eventually(all_handled, timeout=60, what="240 events handled")
    seen: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for event_id, case_id in await playground.effects_of("reader"):
        seen[case_id].append(event_id)
    assert sum(len(v) for v in seen.values()) == total  # exactly once
    for case_id in cases:
        assert seen[case_id] == staged[case_id]
    assert first.handled > 0
    assert second.handled > 0  # both instances took part


async def _six_partitions_assigned(consumer: EventConsumer[UnitOfWork]) -> None:
    async def assigned() -> bool:
        return bool(consumer._consumer and len(consumer._consumer.assignment()) == 6)

    await eventually(assigned, what="six partitions assigned")


async def test_a_gathering_consumer_takes_records_that_arrive_apart_in_few_fetches(
    playground: Playground,
) -> None:
    """With `gather_ms` the broker holds each fetch: records published one by one, 30 ms
    apart (each its own transaction, each relayed at once), reach the consumer together
    instead of a fetch each."""
    relay = playground.relay()
    await relay.start()
    consumer = playground.consumer(playground.recording_handler("reader"), gather_ms=3000)
    await consumer.start()

    await _six_partitions_assigned(consumer)
    for _ in range(12):
        await playground.stage(case_event(uuid.uuid4()))
        await asyncio.sleep(0.03)

    async def all_handled() -> bool:
        return len(await playground.effects_of("reader")) == 12

    await eventually(all_handled, timeout=30, what="12 events handled")
    # The 12 span about 0.4 s: one fetch's wait, or the end of one and the next.
    assert 1 <= consumer.fetches <= 2


async def test_only_one_relay_publishes_and_a_standby_takes_over(playground: Playground) -> None:
    leader, standby = playground.relay(), playground.relay()
    await leader.start()
    await eventually(lambda: _true(leader.is_leader), what="a leader")
    await standby.start()
    await asyncio.sleep(1.0)
    assert not standby.is_leader

    await playground.stage(case_event(uuid.uuid4()))
    await eventually(lambda: _zero(playground.unpublished()), what="published by the leader")
    assert (leader.published_total, standby.published_total) == (1, 0)

    await leader.stop()
    await eventually(lambda: _true(standby.is_leader), timeout=10, what="standby elected")
    await playground.stage(case_event(uuid.uuid4()))
    await eventually(lambda: _zero(playground.unpublished()), what="published by the standby")
    assert standby.published_total == 1


async def test_relay_stop_flushes_what_is_committed(playground: Playground) -> None:
    relay = playground.relay(poll_interval=30.0)  # no polling help: NOTIFY or the flush
    await relay.start()
    await eventually(lambda: _true(relay.is_leader), what="leader")
    await playground.stage(*(case_event(uuid.uuid4()) for _ in range(3)))
    await relay.stop()
    assert await playground.unpublished() == 0


async def test_trace_context_flows_from_the_writer_through_kafka_into_the_handler(
    playground: Playground,
) -> None:
    configure_tracing("tests")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("POST /v1/cases") as request_span:
        event = case_event(uuid.uuid4())
        await playground.stage(event)
    trace_id = request_span.get_span_context().trace_id

    handled_in: list[int] = []
    origins: list[RecordOrigin] = []

    async def note_trace(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        handled_in.append(trace.get_current_span().get_span_context().trace_id)
        origins.append(delivery.origin)

    relay = playground.relay()
    consumer = playground.consumer(note_trace)
    await relay.start()
    await consumer.start()
    await eventually(lambda: _at_least(consumer_progress(consumer), 1), what="handled")
    assert handled_in == [trace_id]
    [record] = await read_topic(playground.bootstrap_servers, playground.case_topic, 1, settle=0)
    assert origins == [
        RecordOrigin(record.topic, record.partition, record.offset, record.timestamp)
    ]
    traceparent = dict(record.headers)["traceparent"].decode()
    assert traceparent.split("-")[1] == f"{trace_id:032x}"
    process_spans = [s for s in exporter.get_finished_spans() if s.name.startswith("process ")]
    assert any(s.context.trace_id == trace_id for s in process_spans)


# --- small helpers ---------------------------------------------------------------------


def consumer_progress(consumer) -> int:  # type: ignore[no-untyped-def]
    return int(consumer.handled + consumer.skipped_duplicates + consumer.dead_lettered)


async def _zero(count_coro) -> bool:  # type: ignore[no-untyped-def]
    return await count_coro == 0


async def _at_least(value: int, expected: int) -> bool:
    return value >= expected


async def _true(value: bool) -> bool:
    return value


async def _send(producer: AIOKafkaProducer, topic: str, record, key: bytes) -> None:  # type: ignore[no-untyped-def]
    await producer.send_and_wait(topic, record.value, key=key, headers=record.headers)


async def test_the_leader_purges_old_published_rows_and_old_ledger_entries(
    playground: Playground,
) -> None:
    old, fresh = case_event(uuid.uuid4()), case_event(uuid.uuid4())
    await playground.stage(old, fresh)
    async with playground.sessions() as session:
        await session.execute(
            text(
                "INSERT INTO processed_events (consumer, event_id, event_type, processed_at) "
                "VALUES ('c', :old, 't', now() - interval '200 days'), ('c', :fresh, 't', now())"
            ),
            {"old": old.id, "fresh": fresh.id},
        )
        await session.commit()
    relay = playground.relay()
    await relay.start()
    await eventually(lambda: _zero(playground.unpublished()), what="published")
    await relay.stop()
    async with playground.sessions() as session:
        await session.execute(
            text(
                "UPDATE outbox SET published_at = now() - interval '30 days' WHERE event_id = :id"
            ),
            {"id": old.id},
        )
        await session.commit()
    await playground.relay().start()  # a new leader purges at once

    async def purged() -> bool:
        async with playground.sessions() as session:
            outbox = (await session.execute(text("SELECT event_id FROM outbox"))).scalars().all()
            ledger = (
                (await session.execute(text("SELECT event_id FROM processed_events")))
                .scalars()
                .all()
            )
        return list(outbox) == [fresh.id] and list(ledger) == [fresh.id]

    await eventually(purged, what="old rows purged, recent ones kept")
