"""What a service consumes and what it does with each event: its handler table.

Each service declares its subscriptions in one place (its `handlers.py`), as a table of event
types and the handler for each:

    CASES = Subscription(
        "mpa-referral.cases",
        handles(CaseRegisteredV1, on_case_registered),
        handles(ConsentWithdrawnV1, on_consent_withdrawn),
    )

and its composition root hands them to `EventConsumer`. The topics follow from the event
types (the contracts' topic registry). A handler runs inside the consumer's unit of work —
possibly with other events of the same partition in one transaction — and must keep every
effect inside it: anything outside the database goes in `uow.after_commit(...)`, because a
batch that fails is rolled back and handled again. It raises `EventRejected` for an event it
can never process (dead-lettered at once); any other exception is retried (see
`mpa_common.failures`).

A subscription that logs every event (the audit) gives one `batch_handler` instead, called
with all the new deliveries of a batch.

By default each assigned partition has a task of its own, and a batch holds one partition's
records. `single_lane=True` gives the consumer one task for all its partitions instead: a
batch takes what is buffered across them (each partition's records still in offset order),
so at a low rate records of many partitions share one transaction. For a subscription
whose transactions are serialised anyway (the audit's append lock): its partitions' tasks
only queued on one another for the lock, each paying a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar
from uuid import UUID

from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.topics import topic_for_event_type

U = TypeVar("U", bound=UnitOfWork)
U_contra = TypeVar("U_contra", bound=UnitOfWork, contravariant=True)
E = TypeVar("E", bound=EventData)


@dataclass(frozen=True, slots=True)
class RecordOrigin:
    """Where an event was read from (what the audit log records beside it)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """One consumed event: its envelope, where it was read, and whether it was replayed
    from a dead-letter topic (`mpa dlq replay`)."""

    envelope: Envelope
    origin: RecordOrigin
    replayed: bool = False


EventHandler = Callable[[U, E, Delivery], Awaitable[None]]
"""`handler(uow, data, delivery)`: `data` is the typed payload, `delivery` the envelope
(cause, time, actor) and its origin."""

BatchHandler = Callable[[U, Sequence[Delivery]], Awaitable[None]]


class SkipReason(StrEnum):
    DUPLICATE = "duplicate"  # processed before: effects not repeated
    DEAD_LETTERED = "dead_lettered"  # sent to the dead-letter topic, not processed
    REPLAY_FOR_OTHERS = "replay_for_others"  # a replay addressed to another consumer group


SkipHook = Callable[[RecordOrigin, UUID | None, SkipReason], Awaitable[None]]
"""Told, after the fact, of a record that caused no effects (e.g. to account for its offset)."""


@dataclass(frozen=True, slots=True)
class HandlerEntry(Generic[U]):
    event_class: type[EventData]
    handler: Callable[[U, Any, Delivery], Awaitable[None]]


def handles(event_class: type[E], handler: EventHandler[U, E]) -> HandlerEntry[U]:
    """One row of a handler table: events of `event_class` go to `handler`."""
    return HandlerEntry(event_class, handler)


class Subscription(Generic[U]):
    """A consumer group, the topics it reads and what it does with each event.

    `ledger=False` leaves idempotency to the handler (the audit log's leaves are unique by
    event id); otherwise every handled event id is recorded in `processed_events` in the
    same transaction as its effects. Events of types the table does not name are passed over
    (their offsets committed, nothing else). `single_lane=True`: one task handles every
    assigned partition, a batch mixing their records (see the module's docstring).

    `gather_ms`: the broker holds each fetch this long to gather what arrives meanwhile,
    so that one fetch (and one transaction) carries many records. Without it each fetch is
    answered as soon as one record arrives: under load that is a fetch per record, and each
    costs the broker about half a millisecond of CPU. It delays each record by up to this
    long, and no longer: without it a record that arrives while the consumer's fetch for
    other partitions is held waits for that fetch (up to `fetch_max_wait_ms`, 1 s).
    Long for a group no person waits on (the audit log), short for one that is.
    """

    def __init__(
        self,
        group: str,
        *entries: HandlerEntry[U],
        batch_handler: BatchHandler[U] | None = None,
        topics: Sequence[str] = (),
        ledger: bool = True,
        on_skipped: SkipHook | None = None,
        gather_ms: int = 0,
        single_lane: bool = False,
    ) -> None:
        if bool(entries) == (batch_handler is not None):
            raise ValueError("a subscription has a handler table or a batch handler")
        if not 0 <= gather_ms <= 30_000:
            raise ValueError("gather_ms is between 0 and 30,000")
        by_type: dict[str, HandlerEntry[U]] = {}
        for entry in entries:
            if entry.event_class.event_type in by_type:
                raise ValueError(f"two handlers for {entry.event_class.event_type}")
            by_type[entry.event_class.event_type] = entry
        self.group = group
        self.entries = tuple(entries)
        self.batch_handler = batch_handler
        self.extra_topics = tuple(topics)
        self.ledger = ledger
        self.on_skipped = on_skipped
        self.gather_ms = gather_ms
        self.single_lane = single_lane
        self._by_type: Mapping[str, HandlerEntry[U]] = by_type

    @property
    def topics(self) -> tuple[str, ...]:
        """Registry topic names (unprefixed): those of the handled event types, and any
        given explicitly (a batch handler names its topics)."""
        names = [topic_for_event_type(t).name for t in self._by_type]
        return tuple(dict.fromkeys([*names, *self.extra_topics]))

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._by_type)

    def entry_for(self, event_type: str) -> HandlerEntry[U] | None:
        return self._by_type.get(event_type)
