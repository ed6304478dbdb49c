"""Request and response models of the audit API (hashes are standard base64, as in checkpoints)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from mpa_audit.adapters.log_store import StoredEntry, StoredTreeHead
from mpa_audit.app.coverage import PartitionCoverage
from mpa_audit_verify.checkpoint import parse_checkpoint_body

_HASH_EXAMPLE = ["3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


class RecordOriginModel(BaseModel):
    topic: str = Field(description="Kafka topic the event was read from", examples=["mpa.case.v1"])
    partition: int = Field(description="Partition of that topic", examples=[3])
    offset: int = Field(description="Offset of the record in that partition", examples=[42])


class LoggedEvent(BaseModel):
    """One leaf of the log: the event as logged, and where it sits in the tree."""

    seq: int = Field(description="Leaf index in the Merkle tree, contiguous from 0", examples=[17])
    leaf_hash: str = Field(
        description="SHA-256(0x00 || leaf bytes), base64", examples=_HASH_EXAMPLE
    )
    logged_at: datetime = Field(
        description="When the service appended it (informational; not part of the leaf)"
    )
    origin: RecordOriginModel = Field(description="Where the event was read (part of the leaf)")
    event: dict[str, Any] = Field(
        description="The CloudEvent in structured mode, as committed to by the leaf "
        "(attributes, `partitionkey` = Kafka key, `data` = payload)",
        examples=[
            {
                "specversion": "1.0",
                "id": "0b6c1e1e-2f5a-4c36-9d7e-5f2b8f1f0a11",
                "type": "org.mpa.case.closed.v1",
                "source": "urn:mpa:service:intake",
                "time": "2026-03-02T09:30:00.123456Z",
                "correlationid": "0b6c1e1e-2f5a-4c36-9d7e-5f2b8f1f0a11",
                "partitionkey": "6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f",
                "data": {"case_id": "6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f"},
            }
        ],
    )

    @classmethod
    def of(cls, entry: StoredEntry) -> LoggedEvent:
        document = json.loads(entry.leaf)
        return cls(
            seq=entry.seq,
            leaf_hash=b64(entry.leaf_hash),
            logged_at=entry.logged_at,
            origin=RecordOriginModel(**document["origin"]),
            event=document["event"],
        )


class EventPage(BaseModel):
    items: list[LoggedEvent]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page",
        examples=["1234"],
    )


class CaseTimeline(BaseModel):
    case_id: UUID
    events: list[LoggedEvent] = Field(
        description="Every event about the case or in one of its stories (same correlation "
        "id), from every service, personal-data accesses included; by event time, then seq"
    )
    truncated: bool = Field(description="True when more events exist than `limit` returned")


class TreeHead(BaseModel):
    """A signed checkpoint: at `timestamp` the log had `tree_size` leaves and this root."""

    origin: str = Field(description="The log's name", examples=["audit.mpa.example/log"])
    tree_size: int = Field(examples=[1024])
    root_hash: str = Field(description="Merkle tree root, base64", examples=_HASH_EXAMPLE)
    timestamp: datetime = Field(description="When the tree head was signed")
    checkpoint: str = Field(
        description="The C2SP signed note (checkpoint body + Ed25519 signature line); save it "
        "as a file to pass to `mpa audit verify --previous-tree-head`"
    )

    @classmethod
    def of(cls, stored: StoredTreeHead) -> TreeHead:
        body = stored.checkpoint.split("\n\n", 1)[0] + "\n"
        head = parse_checkpoint_body(body)
        return cls(
            origin=head.origin,
            tree_size=stored.tree_size,
            root_hash=b64(stored.root_hash),
            timestamp=stored.issued_at,
            checkpoint=stored.checkpoint,
        )


class PublicKey(BaseModel):
    origin: str = Field(examples=["audit.mpa.example/log"])
    algorithm: str = Field(examples=["Ed25519"])
    verifier_key: str = Field(
        description="Signed-note verifier key `<name>+<key id>+<base64 key>`: what "
        "`mpa audit verify --public-key` takes",
        examples=["audit.mpa.example/log+1a2b3c4d+AeK0..."],
    )


class InclusionProofResponse(BaseModel):
    seq: int
    tree_size: int
    leaf_hash: str = Field(examples=_HASH_EXAMPLE)
    audit_path: list[str] = Field(description="RFC 9162 inclusion proof, base64, leaf upwards")
    root_hash: str = Field(
        description="Root of the tree of `tree_size` leaves", examples=_HASH_EXAMPLE
    )


class ConsistencyProofResponse(BaseModel):
    first: int
    second: int
    first_root_hash: str = Field(examples=_HASH_EXAMPLE)
    second_root_hash: str = Field(examples=_HASH_EXAMPLE)
    proof: list[str] = Field(description="RFC 9162 consistency proof, base64")


class OffsetRange(BaseModel):
    first: int
    last: int


class PartitionCoverageModel(BaseModel):
    topic: str
    partition: int
    logged: int = Field(description="Offsets that became a leaf")
    duplicates: int = Field(description="Offsets holding an event logged already (redeliveries)")
    dead_lettered: int = Field(description="Offsets that could not be logged (sent to the DLQ)")
    next_offset: int = Field(description="One past the highest offset accounted for")
    end_offset: int | None = Field(description="Kafka's end offset of the partition")
    lag: int | None = Field(description="Records in Kafka not yet logged")
    gaps: list[OffsetRange] = Field(
        description="Offsets below next_offset neither logged nor skipped (first 100 ranges)"
    )
    complete: bool = Field(description="No gap and nothing dead-lettered")

    @classmethod
    def of(cls, partition: PartitionCoverage) -> PartitionCoverageModel:
        return cls(
            topic=partition.topic,
            partition=partition.partition,
            logged=partition.logged,
            duplicates=partition.duplicates,
            dead_lettered=partition.dead_lettered,
            next_offset=partition.next_offset,
            end_offset=partition.end_offset,
            lag=partition.lag,
            gaps=[OffsetRange(first=a, last=b) for a, b in partition.gaps],
            complete=partition.complete,
        )


class Coverage(BaseModel):
    complete: bool = Field(description="Every partition complete and none lagging")
    partitions: list[PartitionCoverageModel]


class IntegrityReportModel(BaseModel):
    status: str = Field(examples=["intact"])
    tree_size: int
    leaves_checked: int
    nodes_checked: int
    tree_heads_checked: int
    seconds: float
