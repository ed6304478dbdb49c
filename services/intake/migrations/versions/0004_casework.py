"""Casework (issue 16): transfers, assessments, case plan, follow-ups, approvals and the
referrals' progress as casework records; durable timers; the case's risk level and who
keeps access beside its owner.

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0004"
down_revision: str | None = "intake_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column(
            "shared_with",
            postgresql.ARRAY(sa.String(80)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.add_column("cases", sa.Column("risk_level", sa.String(40), nullable=True))
    op.create_table(
        "casework_records",
        sa.Column("record_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "case_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("cases.case_id"), nullable=False
        ),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("record", postgresql.JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index(
        "ix_casework_records_case", "casework_records", ["case_id", "kind", "created_at"]
    )
    op.create_index(
        "ix_casework_records_state", "casework_records", ["kind", "state", "created_at"]
    )
    op.create_table(
        "timers",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("subject_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB,
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
    )
    op.create_index(
        "ix_timers_due", "timers", ["due_at"], postgresql_where=sa.text("fired_at IS NULL")
    )
    op.create_index("ix_timers_subject", "timers", ["kind", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_timers_subject", table_name="timers")
    op.drop_index("ix_timers_due", table_name="timers")
    op.drop_table("timers")
    op.drop_index("ix_casework_records_state", table_name="casework_records")
    op.drop_index("ix_casework_records_case", table_name="casework_records")
    op.drop_table("casework_records")
    op.drop_column("cases", "risk_level")
    op.drop_column("cases", "shared_with")
