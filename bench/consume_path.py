"""CPU per record of the shared consume and relay paths (issue 13), no servers needed.

Two measurements over a realistic mix of the platform's events (every registered event type,
its example payload from `mpa_contracts.examples`, in envelopes as the services write them:
a causation id, a trace context, a subject on some):

1. consume: `from_kafka_record` of binary-mode records, what every consumer (and the audit's
   backlog replay) runs for each record it reads;
2. relay: an outbox row's stored envelope, as PostgreSQL's `jsonb` gives it back (keys
   re-ordered, its own spacing), turned into the Kafka record the relay produces;
3. consumer: `EventConsumer._process` of a partition's batch (the mix as aiokafka records,
   each from its topic's producer), what the shared consumer spends per record around the
   handlers: parsing, admission, spans (on the SDK tracer provider, as services install it)
   and the batch transaction, with a unit of work and handlers that do nothing. Once with
   a batch handler (the audit) and once with a handler table naming every type.

Figures are CPU time (time.process_time), best of --repeats rounds, in µs per record:

    .venv/bin/python bench/consume_path.py [--rounds 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from aiokafka import ConsumerRecord
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from mpa_common.messaging.consumer import EventConsumer, _Lane
from mpa_common.messaging.subscriptions import Delivery, Subscription, handles
from mpa_contracts import envelope as envelope_module
from mpa_contracts.envelope import (
    Envelope,
    envelope_from_json,
    envelope_to_json,
    from_kafka_record,
    new_envelope,
    to_kafka_record,
)
from mpa_contracts.events import EVENT_TYPES
from mpa_contracts.examples import EXAMPLES
from mpa_contracts.topics import topic_for_event_type

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def envelopes() -> list[Envelope]:
    made = []
    for index, (_event_type, data) in enumerate(sorted(EXAMPLES.items())):
        made.append(
            new_envelope(
                data,
                source="urn:mpa:intake",
                subject=f"case/{uuid4()}" if index % 2 else None,
                correlation_id=uuid4(),
                causation_id=uuid4(),
                traceparent=TRACEPARENT,
            )
        )
    return made


def _jsonb_order(value: Any) -> Any:
    # PostgreSQL jsonb keeps object keys shorter first, then by their bytes.
    if isinstance(value, dict):
        ordered = sorted(value.items(), key=lambda item: (len(item[0].encode()), item[0].encode()))
        return {k: _jsonb_order(v) for k, v in ordered}
    if isinstance(value, list):
        return [_jsonb_order(v) for v in value]
    return value


def as_jsonb_text(document: str) -> str:
    """What asyncpg hands the relay for a jsonb column: PostgreSQL's own rendering."""
    return json.dumps(_jsonb_order(json.loads(document)), ensure_ascii=False)


def cpu_us_per_item(
    items: list[Any], work: Callable[[Any], object], rounds: int, repeats: int
) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(rounds):
            for item in items:
                work(item)
        best = min(best, time.process_time() - started)
    return best / (rounds * len(items)) * 1e6


class _NoUnitOfWork:
    async def __aenter__(self) -> _NoUnitOfWork:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def commit(self) -> None:
        return None


async def _ignore_batch(uow: Any, deliveries: Any) -> None:
    return None


async def _ignore_event(uow: Any, data: Any, delivery: Delivery) -> None:
    return None


def consumer_us_per_record(mix: list[Envelope], rounds: int, repeats: int) -> dict[str, float]:
    """CPU per record of EventConsumer._process, per kind of subscription."""
    trace.set_tracer_provider(TracerProvider())  # as configure_tracing does, no exporter
    records = []
    for offset, envelope in enumerate(mix):
        owned = envelope.model_copy(update={"source": topic_for_event_type(envelope.type).producer})
        record = to_kafka_record(owned)
        records.append(
            ConsumerRecord(
                topic=record.topic,
                partition=0,
                offset=offset,
                timestamp=0,
                timestamp_type=0,
                key=record.key,
                value=record.value,
                checksum=None,
                serialized_key_size=len(record.key),
                serialized_value_size=len(record.value),
                headers=record.headers,
            )
        )
    subscriptions: dict[str, Subscription[Any]] = {
        "batch handler": Subscription(
            "bench", batch_handler=_ignore_batch, topics=["mpa.case.v1"], ledger=False
        ),
        "handler table": Subscription(
            "bench", *(handles(c, _ignore_event) for c in EVENT_TYPES.values()), ledger=False
        ),
    }

    async def measure() -> dict[str, float]:
        lane = _Lane("bench", asyncio.Event())
        results = {}
        for name, subscription in subscriptions.items():
            consumer = EventConsumer(
                subscription,
                unit_of_work=_NoUnitOfWork,
                processed=None,
                kafka_options={},
                client_id="bench",
            )
            best = float("inf")
            for _ in range(repeats):
                started = time.process_time()
                for _ in range(rounds):
                    await consumer._process(records, lane)
                best = min(best, time.process_time() - started)
            results[name] = best / (rounds * len(records)) * 1e6
        return results

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="passes over the event mix")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many timings")
    args = parser.parse_args()

    mix = envelopes()
    records = [to_kafka_record(e) for e in mix]
    rows = [as_jsonb_text(envelope_to_json(e)) for e in mix]

    def consume(record: Any) -> object:
        return from_kafka_record(record.key, record.value, record.headers)

    def relay_by_validation(row: str) -> object:
        return to_kafka_record(envelope_from_json(row))

    print(f"event mix: {len(mix)} event types, {args.rounds} rounds, best of {args.repeats}")
    consume_us = cpu_us_per_item(records, consume, args.rounds, args.repeats)
    print(f"consume  from_kafka_record                  {consume_us:7.1f} µs CPU per record")
    relay_us = cpu_us_per_item(rows, relay_by_validation, args.rounds, args.repeats)
    print(f"relay    to_kafka_record(envelope_from_json) {relay_us:6.1f} µs CPU per row")
    direct = getattr(envelope_module, "kafka_record_from_json", None)
    if direct is not None:
        direct_us = cpu_us_per_item(rows, direct, args.rounds, args.repeats)
        print(f"relay    kafka_record_from_json (relay now) {direct_us:7.1f} µs CPU per row")
    for name, us in consumer_us_per_record(mix, max(args.rounds // 4, 1), args.repeats).items():
        print(f"consumer _process, {name:15s}          {us:7.1f} µs CPU per record")


if __name__ == "__main__":
    main()
