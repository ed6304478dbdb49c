"""CPU per record of the shared consume and relay paths (issue 13), no servers needed.

Two measurements over a realistic mix of the platform's events (every registered event type,
its example payload from `mpa_contracts.examples`, in envelopes as the services write them:
a causation id, a trace context, a subject on some):

1. consume: `from_kafka_record` of binary-mode records, what every consumer (and the audit's
   backlog replay) runs for each record it reads;
2. relay: an outbox row's stored envelope, as PostgreSQL's `jsonb` gives it back (keys
   re-ordered, its own spacing), turned into the Kafka record the relay produces.

Figures are CPU time (time.process_time), best of --repeats rounds, in µs per record:

    .venv/bin/python bench/consume_path.py [--rounds 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from mpa_contracts import envelope as envelope_module
from mpa_contracts.envelope import (
    Envelope,
    envelope_from_json,
    envelope_to_json,
    from_kafka_record,
    new_envelope,
    to_kafka_record,
)
from mpa_contracts.examples import EXAMPLES

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


if __name__ == "__main__":
    main()
