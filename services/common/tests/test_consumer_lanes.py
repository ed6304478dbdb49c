"""The shared consumer's single lane (`Subscription(single_lane=True)`, the audit's), on a
fake broker and a fake unit of work: records of several partitions in one transaction, each
partition's in offset order, offsets noted only after the commit and only for partitions
still assigned, a poison record isolated, an outage waited out, backpressure, and a
revocation while a batch is in hand. And the default: a task, a batch, per partition."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from mpa_common.messaging import consumer as consumer_module
from mpa_common.messaging.consumer import ConsumerTuning, EventConsumer
from mpa_common.messaging.subscriptions import Delivery, Subscription
from mpa_contracts.envelope import Envelope, new_envelope, to_kafka_record
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason

TOPIC = "mpa.case.v1"
GROUP = "lanes"
Record = ConsumerRecord[bytes, bytes]
BatchHandler = Callable[[Sequence[Delivery]], Awaitable[None]]


def tp(partition: int) -> TopicPartition:
    return TopicPartition(TOPIC, partition)


# ---- fakes --------------------------------------------------------------------------------


class FakeKafka:
    """What EventConsumer uses of AIOKafkaConsumer: fetches are handed over by the test."""

    def __init__(self, **options: object) -> None:
        self.fetches: asyncio.Queue[dict[TopicPartition, list[Record]]] = asyncio.Queue()
        self.assigned: set[TopicPartition] = set()
        self.paused_partitions: set[TopicPartition] = set()
        self.commits: list[dict[TopicPartition, int]] = []
        self.listener: Any = None

    def subscribe(self, topics: Sequence[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        try:
            return await asyncio.wait_for(self.fetches.get(), timeout_ms / 1000)
        except TimeoutError:
            return {}

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def paused(self) -> set[TopicPartition]:
        return set(self.paused_partitions)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused_partitions.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused_partitions.difference_update(partitions)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    @property
    def committed(self) -> dict[TopicPartition, int]:
        latest: dict[TopicPartition, int] = {}
        for offsets in self.commits:
            latest.update(offsets)
        return latest


class FakeProducer:
    """The dead-letter producer: what was sent, with its headers."""

    def __init__(self, **options: object) -> None:
        self.sent: list[tuple[str, dict[str, bytes]]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_and_wait(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.sent.append((topic, dict(headers)))


@dataclass
class Transaction:
    deliveries: list[Delivery] = field(default_factory=list)
    committed: bool = False

    @property
    def origins(self) -> list[tuple[int, int]]:
        return [(d.origin.partition, d.origin.offset) for d in self.deliveries]


class FakeUnitOfWork:
    """A transaction per block: what the batch handler was given, and whether it committed."""

    def __init__(self, log: list[Transaction]) -> None:
        self._log = log
        self.transaction = Transaction()

    async def __aenter__(self) -> FakeUnitOfWork:
        self.transaction = Transaction()
        self._log.append(self.transaction)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def commit(self) -> None:
        self.transaction.committed = True


@dataclass
class Rig:
    consumer: EventConsumer[Any]
    kafka: FakeKafka
    dead_letters: FakeProducer
    transactions: list[Transaction]

    def deliver(self, fetch: dict[int, Sequence[Record]]) -> None:
        self.kafka.fetches.put_nowait({tp(p): list(records) for p, records in fetch.items()})

    @property
    def committed(self) -> list[Transaction]:
        return [t for t in self.transactions if t.committed]

    def handled(self, partition: int) -> list[int]:
        """The offsets of `partition` whose transaction committed, in the order handled."""
        return [o for t in self.committed for p, o in t.origins if p == partition]


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    made: dict[str, list[Any]] = {"kafka": [], "producers": []}

    def kafka(**options: object) -> FakeKafka:
        made["kafka"].append(FakeKafka(**options))
        return made["kafka"][-1]

    def producer(**options: object) -> FakeProducer:
        made["producers"].append(FakeProducer(**options))
        return made["producers"][-1]

    monkeypatch.setattr(consumer_module, "AIOKafkaConsumer", kafka)
    monkeypatch.setattr(consumer_module, "AIOKafkaProducer", producer)
    return made


@pytest.fixture
async def rig_factory(
    fakes: dict[str, list[Any]],
) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    started: list[EventConsumer[Any]] = []

    async def build(
        handler: BatchHandler | None = None,
        *,
        single_lane: bool = True,
        partitions: Sequence[int] = (0, 1, 2),
        **tuning: Any,
    ) -> Rig:
        transactions: list[Transaction] = []

        async def batch(uow: FakeUnitOfWork, deliveries: Sequence[Delivery]) -> None:
            uow.transaction.deliveries.extend(deliveries)
            if handler is not None:
                await handler(deliveries)

        settings: dict[str, Any] = {
            "retry_initial_seconds": 0.01,
            "retry_max_seconds": 0.02,
            "commit_interval_seconds": 0,
            **tuning,
        }
        consumer: EventConsumer[Any] = EventConsumer(
            Subscription(
                GROUP,
                batch_handler=batch,
                topics=[TOPIC],
                ledger=False,
                **({"single_lane": True} if single_lane else {}),
            ),
            unit_of_work=lambda: FakeUnitOfWork(transactions),  # type: ignore[arg-type,return-value]
            processed=None,
            kafka_options={},
            client_id="lanes",
            tuning=ConsumerTuning(**settings),
        )
        await consumer.start()
        started.append(consumer)
        kafka = fakes["kafka"][-1]
        kafka.assigned = {tp(p) for p in partitions}
        return Rig(consumer, kafka, fakes["producers"][-1], transactions)

    yield build
    for consumer in started:
        await consumer.stop(timeout=5)


def case_event() -> Envelope:
    return new_envelope(
        CaseClosedV1(
            case_id=uuid.uuid4(),
            reason=CaseClosureReason.DUPLICATE,
            actor_id="caseworker:lanes",
            actor_role=ActorRole.CASEWORKER,
        ),
        source="urn:mpa:service:intake",
    )


def records(partition: int, count: int, start: int = 0) -> list[Record]:
    made = []
    for offset in range(start, start + count):
        record = to_kafka_record(case_event())
        made.append(
            ConsumerRecord(
                topic=TOPIC,
                partition=partition,
                offset=offset,
                timestamp=0,
                timestamp_type=0,
                key=record.key,
                value=record.value,
                checksum=None,
                serialized_key_size=len(record.key or b""),
                serialized_value_size=len(record.value or b""),
                headers=record.headers,
            )
        )
    return made


async def eventually(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


# ---- tests --------------------------------------------------------------------------------


async def test_the_single_lane_handles_several_partitions_records_in_one_transaction(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await rig_factory()
    rig.deliver({0: records(0, 2), 1: records(1, 3), 2: records(2, 1)})
    await eventually(lambda: rig.kafka.committed == {tp(0): 2, tp(1): 3, tp(2): 1}, "offsets")
    [transaction] = rig.transactions
    assert transaction.committed
    assert sorted(transaction.origins) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 0)]
    assert rig.consumer.batches == 1
    assert rig.consumer.handled == 6


async def test_by_default_each_partition_has_a_task_and_transactions_of_its_own(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await rig_factory(single_lane=False)
    rig.deliver({0: records(0, 2), 1: records(1, 3), 2: records(2, 1)})
    await eventually(lambda: rig.kafka.committed == {tp(0): 2, tp(1): 3, tp(2): 1}, "offsets")
    assert len(rig.transactions) == 3
    assert all(len({p for p, _ in t.origins}) == 1 for t in rig.transactions)


async def test_each_partition_keeps_its_order_and_a_busy_one_does_not_hold_the_others_back(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await rig_factory(batch_max_records=4)
    rig.deliver({0: records(0, 20), 1: records(1, 2), 2: records(2, 2)})
    await eventually(lambda: rig.kafka.committed.get(tp(0)) == 20, "partition 0 handled")
    assert rig.handled(0) == list(range(20))
    assert rig.handled(1) == [0, 1]
    assert rig.handled(2) == [0, 1]
    assert all(len(t.deliveries) <= 4 for t in rig.transactions)
    # A fair share of each partition first: the small ones are through in two batches.
    first_two = {p for t in rig.transactions[:2] for p, _ in t.origins if p != 0}
    assert first_two == {1, 2}
    assert sum(1 for t in rig.transactions[:2] for p, _ in t.origins if p in (1, 2)) == 4


async def test_a_batch_stops_at_its_byte_limit(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    fetched = {0: records(0, 3), 1: records(1, 3)}
    size = max(len(r.value or b"") for batch in fetched.values() for r in batch)
    rig = await rig_factory(batch_max_bytes=size * 2)
    rig.deliver(fetched)
    await eventually(lambda: rig.kafka.committed == {tp(0): 3, tp(1): 3}, "offsets")
    assert [len(t.deliveries) for t in rig.transactions] == [2, 2, 2]


async def test_a_poison_record_among_several_partitions_is_dead_lettered_alone(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    fetched = {0: records(0, 3), 1: records(1, 3), 2: records(2, 3)}
    poison = fetched[1][1]  # offset 1, as a record of each of the other partitions is

    async def handler(deliveries: Sequence[Delivery]) -> None:
        if any((d.origin.partition, d.origin.offset) == (1, 1) for d in deliveries):
            raise ValueError("a bug in the handler")

    rig = await rig_factory(handler, unexpected_attempts=2)
    rig.deliver(fetched)
    await eventually(lambda: rig.kafka.committed == {tp(0): 3, tp(1): 3, tp(2): 3}, "offsets")
    [(topic, headers)] = rig.dead_letters.sent
    assert topic == f"{TOPIC}.dlq"
    assert headers["mpa_dlq_source_partition"] == b"1"
    assert headers["mpa_dlq_source_offset"] == b"1"
    assert headers["ce_id"] == dict(poison.headers)["ce_id"]
    assert headers["mpa_dlq_attempts"] == b"2"
    for partition in (0, 2):
        assert rig.handled(partition) == [0, 1, 2]
    assert rig.handled(1) == [0, 2]
    assert rig.consumer.dead_lettered == 1


async def test_a_database_outage_is_waited_out_under_the_lanes_name(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    failures = {"left": 3}
    seen_down: list[str] = []
    rig: Rig | None = None

    async def handler(deliveries: Sequence[Delivery]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            if rig is not None and rig.consumer.monitor.is_down("database"):
                seen_down.append(rig.consumer.monitor.status()["database"])
            raise ConnectionRefusedError(111, "Connection refused")

    rig = await rig_factory(handler)
    rig.deliver({0: records(0, 2), 1: records(1, 2)})
    await eventually(lambda: rig.kafka.committed == {tp(0): 2, tp(1): 2}, "offsets")
    assert rig.consumer.transient_retries == 3
    assert rig.dead_letters.sent == []
    assert [t.committed for t in rig.transactions] == [False, False, False, True]
    assert sorted(rig.transactions[-1].origins) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert seen_down
    assert f"consumer:{GROUP}[all partitions]" in seen_down[0]
    assert not rig.consumer.monitor.is_down("database")


async def test_a_full_partition_is_paused_and_resumed_once_the_lane_drains_it(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    release = asyncio.Event()

    async def handler(deliveries: Sequence[Delivery]) -> None:
        await release.wait()

    rig = await rig_factory(handler, batch_max_records=2, buffer_max_records=4)
    rig.deliver({0: records(0, 10), 1: records(1, 1)})
    await eventually(lambda: len(rig.transactions) == 1, "the first batch in hand")
    assert rig.consumer.paused == [tp(0)]
    assert rig.kafka.committed == {}  # nothing before its transaction commits
    release.set()
    await eventually(lambda: rig.kafka.committed == {tp(0): 10, tp(1): 1}, "offsets")
    # Resumed by the fetch loop's next round (a fetch that found nothing, at most 0.5 s).
    await eventually(lambda: rig.consumer.paused == [], "partition 0 resumed")
    assert rig.handled(0) == list(range(10))


async def test_a_revoked_partitions_records_in_hand_are_rolled_back_and_the_rest_redone(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    release = asyncio.Event()

    async def handler(deliveries: Sequence[Delivery]) -> None:
        await release.wait()

    rig = await rig_factory(handler)
    rig.deliver({0: records(0, 2), 1: records(1, 2)})
    await eventually(lambda: len(rig.transactions) == 1, "the batch in hand")
    rig.deliver({1: records(1, 1, start=2), 0: records(0, 1, start=2)})
    await eventually(lambda: rig.kafka.fetches.empty(), "the next fetch buffered")
    await asyncio.sleep(0.01)
    await rig.kafka.listener.on_partitions_revoked([tp(0)])
    rig.kafka.assigned.discard(tp(0))
    release.set()
    await eventually(lambda: rig.kafka.committed == {tp(1): 3}, "partition 1's offsets")
    await asyncio.sleep(0.05)
    assert not rig.transactions[0].committed  # the batch in hand was rolled back
    assert rig.handled(0) == []  # the revoked partition's records: none handled by us
    assert rig.handled(1) == [0, 1, 2]  # the kept partition's, again, in order
    assert all(tp(0) not in commit for commit in rig.kafka.commits)


async def test_revoking_a_partition_the_batch_in_hand_does_not_hold_lets_it_finish(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    release = asyncio.Event()

    async def handler(deliveries: Sequence[Delivery]) -> None:
        await release.wait()

    rig = await rig_factory(handler)
    rig.deliver({0: records(0, 2)})
    await eventually(lambda: len(rig.transactions) == 1, "the batch in hand")
    rig.deliver({1: records(1, 2)})
    await eventually(lambda: rig.kafka.fetches.empty(), "the next fetch buffered")
    await asyncio.sleep(0.01)
    await rig.kafka.listener.on_partitions_revoked([tp(1)])
    rig.kafka.assigned.discard(tp(1))
    release.set()
    await eventually(lambda: rig.kafka.committed == {tp(0): 2}, "partition 0's offsets")
    await asyncio.sleep(0.05)
    assert len(rig.transactions) == 1
    assert rig.transactions[0].committed
    assert rig.handled(1) == []
