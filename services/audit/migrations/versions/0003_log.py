"""The append-only Merkle log: leaves, tree nodes, signed tree heads, skipped offsets.

The runtime role (AUDIT_RUNTIME_ROLE, local stack: mpa_audit_app) may SELECT and INSERT
these tables and nothing else; a trigger refuses UPDATE, DELETE and TRUNCATE to everyone.

Revision ID: audit_0003
Revises: audit_0002
Create Date: 2026-11-24
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mpa_audit.adapters.schema import drop_log_protection_v1, log_protection_v1

revision: str = "audit_0003"
down_revision: str | None = "audit_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = os.environ.get("AUDIT_RUNTIME_ROLE", "mpa_audit_app")


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, primary_key=True),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("case_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("actor_id", sa.String(200), nullable=True),
        sa.Column("source_topic", sa.String(249), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column(
            "logged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("seq >= 0", name="ck_log_entries_seq"),
        sa.CheckConstraint("length(leaf_hash) = 32", name="ck_log_entries_leaf_hash"),
        sa.UniqueConstraint("event_id", name="uq_log_entries_event_id"),
        sa.UniqueConstraint(
            "source_topic", "source_partition", "source_offset", name="uq_log_entries_origin"
        ),
    )
    for name, columns in (
        ("ix_log_entries_correlation", ["correlation_id", "seq"]),
        ("ix_log_entries_case", ["case_id", "seq"]),
        ("ix_log_entries_type", ["event_type", "seq"]),
        ("ix_log_entries_actor", ["actor_id", "seq"]),
        ("ix_log_entries_time", ["event_time", "seq"]),
    ):
        op.create_index(name, "log_entries", columns)
    op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, primary_key=True),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, primary_key=True),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 63", name="ck_merkle_nodes_level"),
        sa.CheckConstraint("length(hash) = 32", name="ck_merkle_nodes_hash"),
    )
    op.create_table(
        "tree_heads",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, primary_key=True),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.CheckConstraint("tree_size >= 0", name="ck_tree_heads_size"),
    )
    op.create_table(
        "skipped_offsets",
        sa.Column("source_topic", sa.String(249), primary_key=True),
        sa.Column("source_partition", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("source_offset", sa.BigInteger(), autoincrement=False, primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "reason IN ('duplicate', 'dead_lettered')", name="ck_skipped_offsets_reason"
        ),
    )
    for statement in log_protection_v1(RUNTIME_ROLE):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_log_protection_v1():
        op.execute(statement)
    for table in ("skipped_offsets", "tree_heads", "merkle_nodes", "log_entries"):
        op.drop_table(table)
