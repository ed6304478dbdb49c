"""Writing events in the same database transaction as the state change that caused them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from opentelemetry import propagate
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_contracts.envelope import Envelope, envelope_to_json
from mpa_contracts.topics import topic_for_event_type


def with_current_trace(envelope: Envelope) -> Envelope:
    """Stamps the caller's trace context (W3C traceparent) on an envelope that has none.

    The relay copies it into the Kafka headers, so the trace of the HTTP request that wrote
    the row continues in every consumer.
    """
    if envelope.traceparent:
        return envelope
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if "traceparent" not in carrier:
        return envelope
    return envelope.model_copy(
        update={"traceparent": carrier["traceparent"], "tracestate": carrier.get("tracestate")}
    )


def topic_name(registry_name: str, prefix: str = "") -> str:
    """The Kafka topic for a registry topic in a deployment namespaced by KAFKA_TOPIC_PREFIX."""
    return f"{prefix}{registry_name}"


class CommitOrder(StrEnum):
    """How concurrent writers of the outbox are kept in commit order.

    The relay publishes unpublished rows in `position` order, and `position` is taken at
    insert, not at commit; so writers that could commit out of insert order must queue.

    * `TABLE` — `LOCK TABLE outbox IN EXCLUSIVE MODE`: every writer queues behind every
      other from its insert to its commit. Position order is commit order, globally.
    * `PER_KEY` — a transaction-scoped advisory lock per Kafka key (taken in sorted order,
      so two writers cannot deadlock on them): only writers of the same key queue. For each
      key, position order is commit order: a second writer of a key inserts (and so takes
      its position) only after the first committed, whose rows are then already visible
      to the relay's scan. Across keys, a lower position may commit after a higher one;
      the relay's scan of *unpublished* rows still publishes it (later), so nothing is
      skipped — a relay that tailed positions ("> last published") would need `TABLE`.
      Kafka keeps order per partition, and consumers rely on it per key: that is the
      guarantee that matters, at a fraction of the queueing.
    """

    TABLE = "table"
    PER_KEY = "per_key"


# The advisory-lock namespace of outbox keys (the two-int form of pg_advisory_xact_lock,
# a key space apart from the relay's one-bigint leader lock).
_OUTBOX_KEY_LOCKS = int.from_bytes(
    hashlib.sha256(b"mpa-outbox-key").digest()[:4], "big", signed=True
)


def _key_lock(key: bytes) -> int:
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big", signed=True)


async def stage_events(
    session: AsyncSession,
    outbox: Table,
    envelopes: Sequence[Envelope],
    *,
    topic_prefix: str = "",
    commit_order: CommitOrder = CommitOrder.TABLE,
) -> None:
    """Adds events to the outbox inside the session's open transaction.

    Call it last, just before commit: the lock it takes (see `CommitOrder`; readers never
    wait for it) is held until commit, so no relay can publish a later event of a case
    before an earlier one. One statement writes every row (PER_KEY: the locks too).
    """
    if not envelopes:
        return
    if commit_order is CommitOrder.TABLE:
        await session.execute(text(f"LOCK TABLE {outbox.name} IN EXCLUSIVE MODE"))
        await session.execute(
            text(outbox_insert_sql(outbox.name, locked=False)),
            outbox_parameters(envelopes, topic_prefix=topic_prefix, locked=False),
        )
        return
    await session.execute(
        text(outbox_insert_sql(outbox.name, locked=True)),
        outbox_parameters(envelopes, topic_prefix=topic_prefix, locked=True),
    )


def outbox_parameters(
    envelopes: Sequence[Envelope], *, topic_prefix: str = "", locked: bool
) -> dict[str, Any]:
    """The parameters of `outbox_insert_sql`: one array per column and, `locked`, the
    sorted per-key lock keys (a service that folds the insert into a statement of its own
    sends these)."""
    traced = [with_current_trace(envelope) for envelope in envelopes]
    kafka_keys = [str(envelope.key).encode() for envelope in traced]
    parameters: dict[str, Any] = {
        "ids": [envelope.id for envelope in traced],
        "types": [envelope.type for envelope in traced],
        "topics": [
            topic_name(topic_for_event_type(envelope.type).name, topic_prefix)
            for envelope in traced
        ],
        "kafka_keys": kafka_keys,
        # The document's text, cast to JSONB by the server (no parse and re-dump here).
        "envelopes": [envelope_to_json(envelope) for envelope in traced],
    }
    if locked:
        parameters["space"] = _OUTBOX_KEY_LOCKS
        parameters["keys"] = sorted({_key_lock(key) for key in kafka_keys})
    return parameters


def outbox_insert_sql(table: str, *, locked: bool, only_if: str | None = None) -> str:
    """The INSERT of a batch of outbox rows, in the given order (positions follow it).

    `locked`: the per-key advisory locks are taken in the same statement, before any row
    takes its position: the rows are joined to the one row the locking CTE yields once
    every lock is held (unnest yields the sorted keys in order), and ORDER BY sorts the
    joined rows before the first is inserted.

    `only_if`: an SQL condition (e.g. `EXISTS (SELECT 1 FROM recorded)`, a CTE of the
    statement this insert is nested in) without which no row is inserted.
    """
    where = f"WHERE {only_if} " if only_if else ""
    rows = (
        "unnest(CAST(:ids AS uuid[]), CAST(:types AS text[]), CAST(:topics AS text[]), "
        "CAST(:kafka_keys AS bytea[]), CAST(:envelopes AS text[])) WITH ORDINALITY "
        "AS r(event_id, event_type, topic, kafka_key, envelope, n)"
    )
    insert = (
        f"INSERT INTO {table} (event_id, event_type, topic, kafka_key, envelope) "
        "SELECT r.event_id, r.event_type, r.topic, r.kafka_key, CAST(r.envelope AS jsonb) "
    )
    if not locked:
        return f"{insert}FROM {rows} {where}ORDER BY r.n"
    locks = (
        "WITH locks AS (SELECT count(pg_advisory_xact_lock(:space, k)) AS taken "
        "FROM unnest(CAST(:keys AS int[])) AS k) "
    )
    return f"{locks}{insert}FROM locks CROSS JOIN {rows} {where}ORDER BY r.n"
