"""Dead letters: reading them back from the `.dlq` topics, and replaying them.

A dead letter is the original record (value, key, headers) plus the consumer's `mpa_dlq_*`
headers: which consumer group failed it, why, after how many attempts, from which offset.
Replaying re-delivers the original record to its source topic with `mpa_replay_for` naming
the group that failed it — the shared consumer lets only that group handle it; every other
group passes over it — and `mpa_replayed_from` naming the dead letter. A marker record on
the dead-letter topic then says the dead letter was replayed, so a second replay skips it;
a replay that did run twice anyway is harmless, since consumers are idempotent by event id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from mpa_common.messaging.consumer import REPLAY_FOR_HEADER, REPLAYED_FROM_HEADER
from mpa_contracts.topics import DEAD_LETTER_TOPICS

DLQ_HEADER_PREFIX = "mpa_dlq_"
REPLAY_MARKER_HEADER = "mpa_dlq_replay_of"
REPLAYED_AT_HEADER = "mpa_dlq_replayed_at"


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, as the consumer that failed it described it."""

    dlq_topic: str
    partition: int
    offset: int
    source_topic: str
    source_partition: int
    source_offset: int
    consumer: str
    reason: str
    error: str
    attempts: int
    failed_at: datetime | None
    event_id: str | None
    event_type: str | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(repr=False)
    replayed_at: datetime | None = None

    @property
    def ref(self) -> str:
        """`<dlq topic>:<partition>:<offset>`: names the dead letter in a replay."""
        return f"{self.dlq_topic}:{self.partition}:{self.offset}"

    def summary(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "source": f"{self.source_topic}:{self.source_partition}:{self.source_offset}",
            "consumer": self.consumer,
            "reason": self.reason,
            "error": self.error,
            "attempts": self.attempts,
            "failed_at": self.failed_at.isoformat() if self.failed_at else None,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "replayed_at": self.replayed_at.isoformat() if self.replayed_at else None,
        }


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command is about; None means any."""

    topic: str | None = None  # a source topic (registry name, without the prefix)
    consumer: str | None = None  # a consumer group as configured (without the prefix)
    reason: str | None = None
    since: datetime | None = None
    event_ids: frozenset[str] = frozenset()
    include_replayed: bool = False

    def matches(self, letter: DeadLetter, prefix: str) -> bool:
        if self.topic is not None and letter.source_topic != f"{prefix}{self.topic}":
            return False
        if self.consumer is not None and letter.consumer != f"{prefix}{self.consumer}":
            return False
        if self.reason is not None and letter.reason != self.reason:
            return False
        if self.since is not None and (letter.failed_at is None or letter.failed_at < self.since):
            return False
        if self.event_ids and letter.event_id not in self.event_ids:
            return False
        return self.include_replayed or letter.replayed_at is None


def _text(headers: Mapping[str, bytes], name: str) -> str | None:
    value = headers.get(name)
    return value.decode("utf-8", "replace") if value is not None else None


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else -1
    except ValueError:
        return -1


def _letter(topic: str, partition: int, offset: int, record: Any) -> DeadLetter:
    headers = tuple((name, value or b"") for name, value in (record.headers or ()))
    named = dict(headers)
    return DeadLetter(
        dlq_topic=topic,
        partition=partition,
        offset=offset,
        source_topic=_text(named, "mpa_dlq_source_topic") or topic.removesuffix(".dlq"),
        source_partition=_int(_text(named, "mpa_dlq_source_partition")),
        source_offset=_int(_text(named, "mpa_dlq_source_offset")),
        consumer=_text(named, "mpa_dlq_consumer") or "",
        reason=_text(named, "mpa_dlq_reason") or "",
        error=_text(named, "mpa_dlq_error") or "",
        attempts=_int(_text(named, "mpa_dlq_attempts")),
        failed_at=_time(_text(named, "mpa_dlq_failed_at")),
        event_id=_text(named, "ce_id"),
        event_type=_text(named, "ce_type"),
        key=record.key,
        value=record.value,
        headers=headers,
    )


async def read_dead_letters(kafka_options: Mapping[str, Any], prefix: str = "") -> list[DeadLetter]:
    """Every dead letter of the platform's `.dlq` topics, oldest first per partition, each
    with `replayed_at` set when a replay marker names it."""
    counts = {f"{prefix}{t.name}": t.partitions for t in DEAD_LETTER_TOPICS}
    reader = AIOKafkaConsumer(**kafka_options, group_id=None, enable_auto_commit=False)
    await reader.start()
    letters: list[DeadLetter] = []
    replays: dict[str, datetime | None] = {}
    try:
        existing = await reader.topics()
        partitions = [
            TopicPartition(name, p)
            for name, count in counts.items()
            if name in existing
            for p in range(count)  # the registry's partition count (created from it)
        ]
        if not partitions:
            return []
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batches = await reader.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    named = dict((n, v or b"") for n, v in (record.headers or ()))
                    if (marker := _text(named, REPLAY_MARKER_HEADER)) is not None:
                        replays[marker] = _time(_text(named, REPLAYED_AT_HEADER))
                    else:
                        letters.append(_letter(tp.topic, tp.partition, record.offset, record))
                    if record.offset + 1 >= ends[tp]:
                        pending.discard(tp)
            if not batches:
                # Offsets at the end may be transaction markers: read positions instead.
                for tp in list(pending):
                    if await reader.position(tp) >= ends[tp]:
                        pending.discard(tp)
    finally:
        await reader.stop()
    return [
        _with_replay(letter, replays[letter.ref]) if letter.ref in replays else letter
        for letter in letters
    ]


def _with_replay(letter: DeadLetter, at: datetime | None) -> DeadLetter:
    return replace(letter, replayed_at=at or datetime.now(UTC))


@dataclass(frozen=True)
class ReplayResult:
    replayed: list[DeadLetter]
    skipped: list[DeadLetter]  # matched, but not replayable (no consumer or source named)


async def replay(kafka_options: Mapping[str, Any], letters: Sequence[DeadLetter]) -> ReplayResult:
    """Re-delivers each dead letter to its source topic for the group that failed it, then
    marks it replayed on its dead-letter topic; returns what was sent."""
    replayable = [d for d in letters if d.consumer and d.source_topic and d.value is not None]
    skipped = [d for d in letters if d not in replayable]
    if not replayable:
        return ReplayResult([], skipped)
    producer = AIOKafkaProducer(**kafka_options, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        now = datetime.now(UTC).isoformat().encode()
        for letter in replayable:
            original = [
                (name, value)
                for name, value in letter.headers
                if not name.startswith(DLQ_HEADER_PREFIX)
                and name not in (REPLAY_FOR_HEADER, REPLAYED_FROM_HEADER)
            ]
            await producer.send_and_wait(
                letter.source_topic,
                value=letter.value,
                key=letter.key,
                headers=[
                    *original,
                    (REPLAY_FOR_HEADER, letter.consumer.encode()),
                    (REPLAYED_FROM_HEADER, letter.ref.encode()),
                ],
            )
            # The marker rides in the dead letter's partition (same key), after it.
            await producer.send_and_wait(
                letter.dlq_topic,
                value=None,
                key=letter.key,
                headers=[(REPLAY_MARKER_HEADER, letter.ref.encode()), (REPLAYED_AT_HEADER, now)],
            )
    finally:
        await producer.stop()
    return ReplayResult(replayable, skipped)


def select(letters: Iterable[DeadLetter], selection: Selection, prefix: str) -> list[DeadLetter]:
    return [letter for letter in letters if selection.matches(letter, prefix)]
