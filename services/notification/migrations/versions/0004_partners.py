"""What the service knows of partners (active or deactivated), so that only an
administrator re-enables an endpoint of a partner the directory deactivated, and only once
the partner is active again.

Revision ID: notification_0004
Revises: notification_0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "notification_0004"
down_revision: str | None = "notification_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("partner_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("partners")
