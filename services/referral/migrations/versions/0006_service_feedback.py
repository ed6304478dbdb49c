"""The person's feedback on a referral's service, per partner (issue 17).

Revision ID: referral_0006
Revises: referral_0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "referral_0006"
down_revision: str | None = "referral_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_feedback",
        sa.Column("feedback_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("referral_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("partner_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("service_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.String(40), nullable=False),
        sa.Column("quality", sa.String(40), nullable=True),
        sa.Column("waiting_time", sa.String(40), nullable=True),
        sa.Column("felt_safe", sa.Boolean(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_service_feedback_partner", "service_feedback", ["partner_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_service_feedback_partner", table_name="service_feedback")
    op.drop_table("service_feedback")
