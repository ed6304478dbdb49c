"""Request and response models of the audit API (hashes are standard base64, as in checkpoints)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from mpa_audit.app.coverage import PartitionCoverage
from mpa_audit.app.integrity import IntegrityReport
from mpa_audit.app.ports import StoredEntry
from mpa_audit.app.tree_heads import CosignedTreeHead
from mpa_audit_verify.checkpoint import read_checkpoint

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


class Cosignature(BaseModel):
    witness: str = Field(description="The witness's name (its key name)")
    cosigned_at: datetime = Field(description="When the witness cosigned (its timestamp)")


class TreeHead(BaseModel):
    """A signed checkpoint: at `timestamp` the log had `tree_size` leaves and this root."""

    origin: str = Field(description="The log's name", examples=["audit.mpa.example/log"])
    tree_size: int = Field(examples=[1024])
    root_hash: str = Field(description="Merkle tree root, base64", examples=_HASH_EXAMPLE)
    timestamp: datetime = Field(description="When the tree head was signed")
    checkpoint: str = Field(
        description="The C2SP signed note (checkpoint body, the log's Ed25519 signature line, "
        "and one cosignature line per witness); save it as a file to pass to "
        "`mpa audit verify --previous-tree-head`"
    )
    cosignatures: list[Cosignature] = Field(
        description="The witnesses that cosigned this tree head (their lines are in "
        "`checkpoint`): each verified it is consistent with every tree head it cosigned before"
    )

    @classmethod
    def of(cls, cosigned: CosignedTreeHead) -> TreeHead:
        stored = cosigned.head
        return cls(
            origin=read_checkpoint(stored.checkpoint).origin,
            tree_size=stored.tree_size,
            root_hash=b64(stored.root_hash),
            timestamp=stored.issued_at,
            checkpoint=cosigned.checkpoint,
            cosignatures=[
                Cosignature(witness=c.witness, cosigned_at=c.cosigned_at)
                for c in cosigned.cosignatures
            ],
        )


class PublicKey(BaseModel):
    origin: str = Field(examples=["audit.mpa.example/log"])
    algorithm: str = Field(examples=["Ed25519"])
    verifier_key: str = Field(
        description="Signed-note verifier key `<name>+<key id>+<base64 key>`: what "
        "`mpa audit verify --public-key` takes",
        examples=["audit.mpa.example/log+1a2b3c4d+AeK0..."],
    )
    witnesses: list[str] = Field(
        description="Cosigner keys (type 0x04) of the witnesses this log asks; obtain them "
        "from the witnesses' operators before trusting them (`--witness-key`)"
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


class MissingEvent(BaseModel):
    offset: int = Field(description="The dead-lettered offset")
    event_id: UUID | None = Field(description="Its event's id (null: the record did not decode)")


class PartitionCoverageModel(BaseModel):
    topic: str
    partition: int
    epoch: int = Field(
        description="Incarnation of the partition's offsets: a new epoch starts when an "
        "offset is read again holding another event (topic recreated, cluster restored)"
    )
    logged: int = Field(description="Offsets that became a leaf")
    duplicates: int = Field(description="Offsets holding an event logged already (redeliveries)")
    replays: int = Field(description="Dead-letter replays addressed to other consumer groups")
    dead_lettered: int = Field(description="Offsets sent to the dead-letter topic")
    missing_count: int = Field(description="Dead-lettered offsets whose event is not in the log")
    missing: list[MissingEvent] = Field(description="Those events (first 100): not accounted")
    next_offset: int = Field(description="One past the highest offset read")
    end_offset: int | None = Field(description="Kafka's end offset (latest epoch only)")
    lag: int | None = Field(description="Records in Kafka not yet read")
    gaps: list[OffsetRange] = Field(
        description="Offsets below next_offset never read (first 100 ranges)"
    )
    complete: bool = Field(description="No gap, and no dead-lettered event missing from the log")

    @classmethod
    def of(cls, partition: PartitionCoverage) -> PartitionCoverageModel:
        return cls(
            topic=partition.topic,
            partition=partition.partition,
            epoch=partition.epoch,
            logged=partition.logged,
            duplicates=partition.duplicates,
            replays=partition.replays,
            dead_lettered=partition.dead_lettered,
            missing_count=partition.missing_count,
            missing=[MissingEvent(offset=m.offset, event_id=m.event_id) for m in partition.missing],
            next_offset=partition.next_offset,
            end_offset=partition.end_offset,
            lag=partition.lag,
            gaps=[OffsetRange(first=a, last=b) for a, b in partition.gaps],
            complete=partition.complete,
        )


class Coverage(BaseModel):
    complete: bool = Field(description="Every partition complete and none lagging")
    missing_event_ids: list[UUID] = Field(
        description="Dead-lettered events not (yet) in the log, across partitions (first 100 "
        "of each)"
    )
    partitions: list[PartitionCoverageModel]

    @classmethod
    def of(cls, partitions: list[PartitionCoverage]) -> Coverage:
        return cls(
            complete=all(p.complete and not p.lag for p in partitions),
            missing_event_ids=[
                m.event_id for p in partitions for m in p.missing if m.event_id is not None
            ],
            partitions=[PartitionCoverageModel.of(p) for p in partitions],
        )


class IntegrityReportModel(BaseModel):
    status: str = Field(examples=["intact"])
    scope: str = Field(description="incremental or full")
    tree_size: int
    verified_from: int = Field(
        description="Where the check started (incremental: the last intact check's size)"
    )
    leaves_checked: int
    nodes_checked: int
    tree_heads_checked: int
    witnesses_checked: int
    warnings: list[str]
    last_full_check: datetime | None = Field(description="When the last full check ran")
    seconds: float

    @classmethod
    def of(cls, report: IntegrityReport) -> IntegrityReportModel:
        return cls(
            status="intact",
            scope=report.scope,
            tree_size=report.tree_size,
            verified_from=report.from_size,
            leaves_checked=report.leaves_checked,
            nodes_checked=report.nodes_checked,
            tree_heads_checked=report.tree_heads_checked,
            witnesses_checked=report.witnesses_checked,
            warnings=report.warnings,
            last_full_check=report.last_full.checked_at if report.last_full else None,
            seconds=round(report.seconds, 3),
        )
