"""Batched appends' accounts, offset epochs, witnesses' cosignatures, integrity checks.

- `source_epoch` on log_entries and skipped_offsets: offsets reused after a topic was
  recreated or a cluster restored are accounted in a new epoch instead of colliding (the
  origin is unique per epoch); skipped offsets may also be 'replay_for_others'.
- coverage_accounts (one running account per source partition and epoch, what coverage
  reads; the runtime role may UPDATE it) and coverage_gaps, both filled from the existing
  log here.
- tree_head_cosignatures (witnesses' cosignature lines) and integrity_checks (where the next
  incremental check starts), append-only like the log.

Revision ID: audit_0005
Revises: audit_0004
Create Date: 2026-12-01
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mpa_audit.adapters.schema import drop_log_protection_v2, log_protection_v2

revision: str = "audit_0005"
down_revision: str | None = "audit_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = os.environ.get("AUDIT_RUNTIME_ROLE", "mpa_audit_app")


def upgrade() -> None:
    # Constant defaults: metadata-only changes, no row is rewritten (no trigger fires).
    op.add_column(
        "log_entries",
        sa.Column("source_epoch", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.drop_constraint("uq_log_entries_origin", "log_entries", type_="unique")
    op.create_unique_constraint(
        "uq_log_entries_origin_epoch",
        "log_entries",
        ["source_topic", "source_partition", "source_epoch", "source_offset"],
    )
    op.add_column(
        "skipped_offsets",
        sa.Column("source_epoch", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.drop_constraint("skipped_offsets_pkey", "skipped_offsets", type_="primary")
    op.create_primary_key(
        "skipped_offsets_pkey",
        "skipped_offsets",
        ["source_topic", "source_partition", "source_offset", "source_epoch"],
    )
    op.drop_constraint("ck_skipped_offsets_reason", "skipped_offsets", type_="check")
    op.create_check_constraint(
        "ck_skipped_offsets_reason_v2",
        "skipped_offsets",
        "reason IN ('duplicate', 'dead_lettered', 'replay_for_others')",
    )
    op.create_index(
        "ix_skipped_offsets_dead_letters",
        "skipped_offsets",
        ["source_topic", "source_partition", "source_epoch"],
        postgresql_where=sa.text("reason = 'dead_lettered'"),
    )
    op.create_table(
        "coverage_accounts",
        sa.Column("source_topic", sa.String(249), primary_key=True),
        sa.Column("source_partition", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("source_epoch", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("seen", sa.BigInteger(), nullable=False),
        sa.Column("logged", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("replays", sa.BigInteger(), nullable=False),
        sa.Column("dead_lettered", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "coverage_gaps",
        sa.Column("source_topic", sa.String(249), primary_key=True),
        sa.Column("source_partition", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("source_epoch", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("first_offset", sa.BigInteger(), autoincrement=False, primary_key=True),
        sa.Column("last_offset", sa.BigInteger(), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("last_offset >= first_offset", name="ck_coverage_gaps_range"),
    )
    op.create_table(
        "tree_head_cosignatures",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, primary_key=True),
        sa.Column("witness", sa.String(200), primary_key=True),
        sa.Column("cosignature", sa.Text(), primary_key=True),
        sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "integrity_checks",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_size", sa.BigInteger(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("intact", sa.Boolean(), nullable=False),
        sa.Column("findings", postgresql.JSONB(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=True),
        sa.Column("peaks", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("scope IN ('incremental', 'full')", name="ck_integrity_checks_scope"),
    )
    # The accounts and gaps of what is logged already (one scan, once).
    op.execute(
        """
        INSERT INTO coverage_accounts (source_topic, source_partition, source_epoch,
            next_offset, seen, logged, duplicates, replays, dead_lettered)
        SELECT source_topic, source_partition, 0, max(source_offset) + 1,
               count(DISTINCT source_offset),
               count(*) FILTER (WHERE outcome = 'logged'),
               count(*) FILTER (WHERE outcome = 'duplicate'), 0,
               count(*) FILTER (WHERE outcome = 'dead_lettered')
        FROM (
            SELECT source_topic, source_partition, source_offset, 'logged' AS outcome
            FROM log_entries
            UNION ALL
            SELECT source_topic, source_partition, source_offset, reason FROM skipped_offsets
        ) AS accounted
        GROUP BY source_topic, source_partition
        """
    )
    op.execute(
        """
        INSERT INTO coverage_gaps (source_topic, source_partition, source_epoch,
            first_offset, last_offset)
        SELECT source_topic, source_partition, 0, previous + 1, source_offset - 1
        FROM (
            SELECT source_topic, source_partition, source_offset,
                   lag(source_offset, 1, -1::bigint) OVER (
                       PARTITION BY source_topic, source_partition ORDER BY source_offset
                   ) AS previous
            FROM (
                SELECT source_topic, source_partition, source_offset FROM log_entries
                UNION
                SELECT source_topic, source_partition, source_offset FROM skipped_offsets
            ) AS offsets
        ) AS steps
        WHERE source_offset > previous + 1
        """
    )
    for statement in log_protection_v2(RUNTIME_ROLE):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_log_protection_v2():
        op.execute(statement)
    for table in (
        "integrity_checks",
        "tree_head_cosignatures",
        "coverage_gaps",
        "coverage_accounts",
    ):
        op.drop_table(table)
    op.drop_index("ix_skipped_offsets_dead_letters", "skipped_offsets")
    op.drop_constraint("ck_skipped_offsets_reason_v2", "skipped_offsets", type_="check")
    op.create_check_constraint(
        "ck_skipped_offsets_reason", "skipped_offsets", "reason IN ('duplicate', 'dead_lettered')"
    )
    op.drop_constraint("skipped_offsets_pkey", "skipped_offsets", type_="primary")
    op.create_primary_key(
        "skipped_offsets_pkey",
        "skipped_offsets",
        ["source_topic", "source_partition", "source_offset"],
    )
    op.drop_column("skipped_offsets", "source_epoch")
    op.drop_constraint("uq_log_entries_origin_epoch", "log_entries", type_="unique")
    op.create_unique_constraint(
        "uq_log_entries_origin",
        "log_entries",
        ["source_topic", "source_partition", "source_offset"],
    )
    op.drop_column("log_entries", "source_epoch")
