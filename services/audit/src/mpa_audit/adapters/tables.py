"""The audit service's tables (SQLAlchemy Core metadata; Alembic migrations follow it).

The log is append-only: the runtime role may SELECT and INSERT these tables, never UPDATE or
DELETE, and a trigger refuses UPDATE, DELETE and TRUNCATE from anyone who could (see
`schema.py`). What a superuser changes anyway is found by the integrity check and by
verifying an export, because the hashes no longer add up.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from mpa_common.messaging.tables import add_messaging_tables

metadata = MetaData()
outbox, processed_events = add_messaging_tables(metadata)

log_entries = Table(
    "log_entries",
    metadata,
    # Leaf index in the Merkle tree: contiguous from 0, assigned under the append lock.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    # The canonical leaf bytes (domain.leaf) and SHA-256(0x00 || leaf): what is proven.
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    # Read from the leaf, for queries; the integrity check holds them equal to it.
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    Column("case_id", UUID(as_uuid=True), nullable=True),
    Column("actor_id", String(200), nullable=True),
    Column("source_topic", String(249), nullable=False),
    Column("source_partition", Integer, nullable=False),
    Column("source_offset", BigInteger, nullable=False),
    Column("logged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("seq >= 0", name="ck_log_entries_seq"),
    CheckConstraint("length(leaf_hash) = 32", name="ck_log_entries_leaf_hash"),
    UniqueConstraint("event_id", name="uq_log_entries_event_id"),
    UniqueConstraint(
        "source_topic", "source_partition", "source_offset", name="uq_log_entries_origin"
    ),
    Index("ix_log_entries_correlation", "correlation_id", "seq"),
    Index("ix_log_entries_case", "case_id", "seq"),
    Index("ix_log_entries_type", "event_type", "seq"),
    Index("ix_log_entries_actor", "actor_id", "seq"),
    Index("ix_log_entries_time", "event_time", "seq"),
)

merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    # Complete-subtree node (level, node_index) over leaves
    # [node_index * 2**level, (node_index + 1) * 2**level); level 0 is log_entries.leaf_hash.
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("node_index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    CheckConstraint("level BETWEEN 1 AND 63", name="ck_merkle_nodes_level"),
    CheckConstraint("length(hash) = 32", name="ck_merkle_nodes_hash"),
)

tree_heads = Table(
    "tree_heads",
    metadata,
    # One signed checkpoint per tree size: the first one signed for a size is kept.
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("checkpoint", Text, nullable=False),
    CheckConstraint("tree_size >= 0", name="ck_tree_heads_size"),
)

skipped_offsets = Table(
    "skipped_offsets",
    metadata,
    # Offsets read but not logged as a new leaf, so coverage can account for every offset:
    # 'duplicate' (the event is already in the log) or 'dead_lettered' (could not be logged).
    Column("source_topic", String(249), primary_key=True),
    Column("source_partition", Integer, primary_key=True, autoincrement=False),
    Column("source_offset", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", UUID(as_uuid=True), nullable=True),
    Column("reason", String(20), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("reason IN ('duplicate', 'dead_lettered')", name="ck_skipped_offsets_reason"),
)

LOG_TABLES = (log_entries, merkle_nodes, tree_heads, skipped_offsets)
"""Tables nobody may UPDATE or DELETE."""
