"""The bytes of a log leaf: one consumed event, canonically encoded.

A leaf commits to the event exactly as the platform defines it, plus where it was read:

    {"event": <the CloudEvent in structured mode: every attribute, "partitionkey" (the Kafka
               key) and "data" (the payload JSON, fields at their default left out)>,
     "format": "mpa-audit-leaf/1",
     "origin": {"offset": <int>, "partition": <int>, "topic": <the Kafka topic read>}}

encoded as canonical JSON: keys sorted at every level, no whitespace, ASCII only (anything
else escaped as \\u and four hex digits), UTF-8/ASCII bytes. The same event read at the
same offset always gives the same bytes, so anyone can rebuild a leaf from the event and
check its hash.
W3C trace context (traceparent, tracestate) is left out: it is operational, not part of
what happened. Events carry no personal data (contracts), so neither does a leaf, and
shredding a case's key never breaks the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any
from uuid import UUID

from mpa_contracts.envelope import JSON_CONTENT_TYPE, PARTITIONKEY_ATTRIBUTE, Envelope

LEAF_FORMAT = "mpa-audit-leaf/1"


@dataclass(frozen=True, slots=True)
class RecordOrigin:
    """Where a consumed event was read: Kafka topic, partition and offset."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class LeafSummary:
    """The leaf's fields the log indexes for queries (each one read from the leaf itself)."""

    event_id: UUID
    event_type: str
    event_time: datetime
    correlation_id: UUID
    case_id: UUID | None
    actor_id: str | None
    origin: RecordOrigin


def canonical_json(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, ASCII only; NaN and infinities refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


_encode = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
).encode
_string = encode_basestring_ascii
"""How the canonical encoder writes a string (json's own C function)."""


def _event_attributes(envelope: Envelope) -> dict[str, str]:
    """The envelope's CloudEvents attributes as `envelope_to_json` writes them, without trace
    context and without data."""
    event = {
        "specversion": envelope.specversion,
        "id": str(envelope.id),
        "source": envelope.source,
        "type": envelope.type,
        "time": envelope.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "dataschema": envelope.dataschema,
        "correlationid": str(envelope.correlation_id),
        "datacontenttype": JSON_CONTENT_TYPE,
        PARTITIONKEY_ATTRIBUTE: str(envelope.key),
    }
    if envelope.subject is not None:
        event["subject"] = envelope.subject
    if envelope.causation_id is not None:
        event["causationid"] = str(envelope.causation_id)
    if envelope.actor_id is not None:
        event["actorid"] = envelope.actor_id
    return event


def _payload(envelope: Envelope) -> dict[str, Any]:
    return envelope.data.model_dump(mode="json", exclude_defaults=True)


def leaf_document(envelope: Envelope, origin: RecordOrigin) -> dict[str, Any]:
    """The JSON document a leaf encodes."""
    event: dict[str, Any] = dict(_event_attributes(envelope))
    event["data"] = _payload(envelope)
    return {
        "event": event,
        "format": LEAF_FORMAT,
        "origin": {"offset": origin.offset, "partition": origin.partition, "topic": origin.topic},
    }


def _canonical_leaf(
    attributes: dict[str, str], payload: dict[str, Any], origin: RecordOrigin
) -> bytes:
    """``canonical_json(leaf_document(...))``, assembled around the one nested value that
    needs the general encoder (the payload): the audit encodes every event of the platform,
    and this is several times cheaper (the leaf tests pin the two to the same bytes)."""
    fields = [f"{_string(name)}:{_string(value)}" for name, value in attributes.items()]
    fields.append(f'"data":{_encode(payload)}')
    fields.sort()  # each field starts with its quoted name: sorting them sorts the names
    where = (
        f'"offset":{int(origin.offset)},"partition":{int(origin.partition)},'
        f'"topic":{_string(origin.topic)}'
    )
    return (
        f'{{"event":{{{",".join(fields)}}},"format":"{LEAF_FORMAT}","origin":{{{where}}}}}'.encode(
            "ascii"
        )
    )


def leaf_bytes(envelope: Envelope, origin: RecordOrigin) -> bytes:
    """The canonical bytes of the leaf for ``envelope`` read at ``origin``."""
    return _canonical_leaf(_event_attributes(envelope), _payload(envelope), origin)


def encode_leaf(envelope: Envelope, origin: RecordOrigin) -> tuple[bytes, LeafSummary]:
    """The leaf's bytes and its indexed fields, read from the same values (what
    ``summarize_leaf`` would read back from the bytes, without parsing them again)."""
    payload = _payload(envelope)
    case_id = payload.get("case_id")
    summary = LeafSummary(
        event_id=envelope.id,
        event_type=envelope.type,
        event_time=envelope.time,
        correlation_id=envelope.correlation_id,
        case_id=UUID(case_id) if isinstance(case_id, str) else None,
        actor_id=envelope.actor_id,
        origin=origin,
    )
    return _canonical_leaf(_event_attributes(envelope), payload, origin), summary


def summarize_leaf(leaf: bytes) -> LeafSummary:
    """The indexed fields of a leaf; raises ValueError if it is not a leaf of this format."""
    document = json.loads(leaf)
    if not isinstance(document, dict) or document.get("format") != LEAF_FORMAT:
        raise ValueError(f"not a {LEAF_FORMAT} leaf")
    event = document["event"]
    origin = document["origin"]
    data = event.get("data") or {}
    case_id = data.get("case_id")
    return LeafSummary(
        event_id=UUID(event["id"]),
        event_type=event["type"],
        event_time=datetime.fromisoformat(event["time"]),
        correlation_id=UUID(event["correlationid"]),
        case_id=UUID(case_id) if isinstance(case_id, str) else None,
        actor_id=event.get("actorid"),
        origin=RecordOrigin(origin["topic"], origin["partition"], origin["offset"]),
    )
