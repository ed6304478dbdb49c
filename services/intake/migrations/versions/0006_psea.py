"""PSEA complaints (issue 17): restricted records, their account and survivor encrypted
under a data key of their own.

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0006"
down_revision: str | None = "intake_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "psea_complaints",
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", postgresql.JSONB(), nullable=False),
        sa.Column("master_key_id", sa.String(64), nullable=False),
        sa.Column("wrapped_data_key", sa.LargeBinary(), nullable=False),
        sa.Column("personal_data", sa.LargeBinary(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_psea_complaints_received", "psea_complaints", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_psea_complaints_received", table_name="psea_complaints")
    op.drop_table("psea_complaints")
