"""The audit service's tables (SQLAlchemy Core metadata; Alembic migrations follow it).

The log is append-only: the runtime role may SELECT and INSERT these tables, never UPDATE or
DELETE, and a trigger refuses UPDATE, DELETE and TRUNCATE from anyone who could (see
`schema.py`). What a superuser changes anyway is found by the integrity check and by
verifying an export, because the hashes no longer add up.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

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
    # Incarnation of the partition's offsets (see domain.accounting): not part of the leaf.
    Column("source_epoch", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("seq >= 0", name="ck_log_entries_seq"),
    CheckConstraint("length(leaf_hash) = 32", name="ck_log_entries_leaf_hash"),
    UniqueConstraint("event_id", name="uq_log_entries_event_id"),
    UniqueConstraint(
        "source_topic",
        "source_partition",
        "source_epoch",
        "source_offset",
        name="uq_log_entries_origin_epoch",
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
    # Offsets read but not logged as a new leaf: 'duplicate' (the event is already in the
    # log) and 'replay_for_others' (a dead-letter replay for another group) are accounted;
    # 'dead_lettered' (could not be logged) is not, until its event is in the log.
    Column("source_topic", String(249), primary_key=True),
    Column("source_partition", Integer, primary_key=True, autoincrement=False),
    Column("source_offset", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", UUID(as_uuid=True), nullable=True),
    Column("reason", String(20), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column(
        "source_epoch", Integer, primary_key=True, autoincrement=False, server_default=text("0")
    ),
    CheckConstraint(
        "reason IN ('duplicate', 'dead_lettered', 'replay_for_others')",
        name="ck_skipped_offsets_reason_v2",
    ),
    Index(
        "ix_skipped_offsets_dead_letters",
        "source_topic",
        "source_partition",
        "source_epoch",
        postgresql_where=text("reason = 'dead_lettered'"),
    ),
)

coverage_accounts = Table(
    "coverage_accounts",
    metadata,
    # The running account of each source partition and epoch, updated by every append under
    # the append lock: what /v1/audit/coverage reads instead of scanning the log. Derived
    # data (the full integrity check recounts it), so it is the one table the runtime role
    # may UPDATE.
    Column("source_topic", String(249), primary_key=True),
    Column("source_partition", Integer, primary_key=True, autoincrement=False),
    Column("source_epoch", Integer, primary_key=True, autoincrement=False),
    Column("next_offset", BigInteger, nullable=False),
    Column("seen", BigInteger, nullable=False),
    Column("logged", BigInteger, nullable=False),
    Column("duplicates", BigInteger, nullable=False),
    Column("replays", BigInteger, nullable=False),
    Column("dead_lettered", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

coverage_gaps = Table(
    "coverage_gaps",
    metadata,
    # Offsets passed over when they were due (recorded when the gap opened; one read later
    # fills it, which the coverage read subtracts).
    Column("source_topic", String(249), primary_key=True),
    Column("source_partition", Integer, primary_key=True, autoincrement=False),
    Column("source_epoch", Integer, primary_key=True, autoincrement=False),
    Column("first_offset", BigInteger, primary_key=True, autoincrement=False),
    Column("last_offset", BigInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("last_offset >= first_offset", name="ck_coverage_gaps_range"),
)

tree_head_cosignatures = Table(
    "tree_head_cosignatures",
    metadata,
    # A witness's verified cosignature line (C2SP tlog-cosignature) on a signed tree head.
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(200), primary_key=True),
    # Part of the key: a tree head signed again for the same size is cosigned again.
    Column("cosignature", Text, primary_key=True),
    Column("cosigned_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

integrity_checks = Table(
    "integrity_checks",
    metadata,
    # Every completed integrity check; an intact one records the right edge it verified,
    # where the next incremental check starts.
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("scope", String(20), nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("from_size", BigInteger, nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("intact", Boolean, nullable=False),
    Column("findings", JSONB, nullable=False),
    Column("root_hash", LargeBinary, nullable=True),
    Column("peaks", LargeBinary, nullable=True),
    CheckConstraint("scope IN ('incremental', 'full')", name="ck_integrity_checks_scope"),
)

LOG_TABLES = (log_entries, merkle_nodes, tree_heads, skipped_offsets)
"""Tables nobody may UPDATE or DELETE (audit_0003)."""

APPEND_ONLY_TABLES_V2 = (coverage_gaps, tree_head_cosignatures, integrity_checks)
"""Tables added by audit_0005, append-only like the log."""
